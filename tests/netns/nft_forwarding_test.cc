// NftForwarding against a real nf_tables in private namespaces; every assertion reads the
// ruleset back with `nft -j list ruleset`, and the relay test sends real ICMP through a
// namespace whose FORWARD chain drops like Docker's.
#include "netlink/nft_forwarding.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/netns.h"

namespace wgmesh::netlink {
namespace {

using nlohmann::json;
using test::TestNamespace;

constexpr const char* kMesh = "mesh0";

#define WGMESH_REQUIRE_NFT()                                                                \
    do {                                                                                    \
        WGMESH_REQUIRE_NETNS();                                                             \
        if (!::wgmesh::test::program_exists("nft"))                                         \
            GTEST_SKIP() << "nft test skipped: nft(8) is not installed to read rules back"; \
    } while (0)

// What iptables-nft leaves behind on a Docker host, plus a distro "inet filter" table.
constexpr const char* kDockerLikeRuleset = R"(
table ip filter {
    chain DOCKER-USER {
        return
    }
    chain FORWARD {
        type filter hook forward priority 0; policy drop;
        jump DOCKER-USER
        iifname "docker0" oifname != "docker0" accept
        oifname "docker0" ct state related,established accept
    }
    chain INPUT {
        type filter hook input priority 0; policy accept;
    }
}
table ip6 filter {
    chain FORWARD {
        type filter hook forward priority 0; policy drop;
        iifname "docker0" accept comment "foreign comment"
    }
}
table inet filter {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 22 accept
    }
    chain forward {
        type filter hook forward priority 0; policy accept;
        iifname "eth9" drop
    }
}
)";

json ruleset(const TestNamespace& ns) {
    return json::parse(ns.exec_checked({"nft", "-j", "list", "ruleset"}))["nftables"];
}

// The objects of one kind ("table", "chain", "rule") in a listing, in order.
std::vector<json> objects(const json& items, const std::string& kind) {
    std::vector<json> found;
    for (const json& item : items) {
        if (item.contains(kind)) {
            found.push_back(item[kind]);
        }
    }
    return found;
}

std::vector<json> rules_in(const json& items, const std::string& family, const std::string& table,
                           const std::string& chain) {
    std::vector<json> found;
    for (const json& rule : objects(items, "rule")) {
        if (rule["family"] == family && rule["table"] == table && rule["chain"] == chain) {
            found.push_back(rule);
        }
    }
    return found;
}

bool is_ours(const json& object) {
    return (object.value("family", "") == "inet" &&
            object.value("table", object.value("name", "")) == "wgmesh-mesh0") ||
           object.value("comment", "") == "wgmesh:mesh0";
}

// The listing with our table, chain and rules (wherever they are) taken out.
json without_ours(const json& items) {
    json kept = json::array();
    for (const json& item : items) {
        const json& object = item.begin().value();
        if (!(object.is_object() && is_ours(object))) {
            kept.push_back(item);
        }
    }
    return kept;
}

void load_ruleset(const TestNamespace& ns, const std::string& text) {
    ns.exec_checked({"nft", "-f", "-"}, text);
}

std::string ip_forward(const TestNamespace& ns) {
    return ns.exec_checked({"cat", "/proc/sys/net/ipv4/ip_forward"});
}

void expect_relay_expr(const json& rule) {
    EXPECT_EQ(rule["comment"], "wgmesh:mesh0");
    EXPECT_EQ(rule["expr"], json::parse(R"([
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "mesh0"}},
        {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "mesh0"}},
        {"accept": null}])"));
}

TEST(NftContext, RunsTextAndJsonAndThrowsWithNftsOwnErrorText) {
    WGMESH_REQUIRE_NFT();
    TestNamespace ns("nft-ctx");
    auto scope = ns.enter();
    NftContext text(NftContext::Output::kText);
    text.run("add table ip t\nadd chain ip t c");
    EXPECT_NE(text.run("list table ip t").find("chain c {"), std::string::npos);
    try {
        text.run("add rule ip t nochain accept");
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos)
            << e.what();
    }
    NftContext json_context;
    const json listing =
        json::parse(json_context.run(R"({"nftables": [{"list": {"tables": {}}}]})"));
    EXPECT_EQ(objects(listing["nftables"], "table").size(), 1U) << listing.dump();
    EXPECT_THROW(json_context.run("this is not nft"), std::runtime_error);
    // A failed batch applies nothing.
    EXPECT_THROW(text.run("add table ip u\nadd rule ip u nochain accept"), std::runtime_error);
    EXPECT_EQ(objects(ruleset(ns), "table").size(), 1U);
}

TEST(NftForwarding, RejectsUnsafeInterfaceNamesBeforeTouchingNftables) {
    EXPECT_THROW(NftForwarding("wg0\" accept"), std::invalid_argument);
    EXPECT_THROW(NftForwarding(""), std::invalid_argument);
    EXPECT_THROW(NftForwarding("much-too-long-name0"), std::invalid_argument);
}

TEST(NftForwarding, ManyEnsuresLeaveExactlyOneRuleInOurOwnTable) {
    WGMESH_REQUIRE_NFT();
    TestNamespace ns("nft-one");
    ns.exec_checked({"sysctl", "-q", "-w", "net.ipv4.ip_forward=0"});
    {
        auto scope = ns.enter();
        NftForwarding forwarding(kMesh);
        for (int i = 0; i < 5; ++i) {
            forwarding.ensure();
        }
        EXPECT_TRUE(forwarding.warnings().empty());
    }
    EXPECT_EQ(ip_forward(ns), "1\n");
    const json items = ruleset(ns);
    const std::vector<json> tables = objects(items, "table");
    ASSERT_EQ(tables.size(), 1U) << items.dump();
    EXPECT_EQ(tables[0]["family"], "inet");
    EXPECT_EQ(tables[0]["name"], "wgmesh-mesh0");
    EXPECT_FALSE(tables[0].contains("flags")) << "no owner flag: rules outlive the daemon";

    const std::vector<json> chains = objects(items, "chain");
    ASSERT_EQ(chains.size(), 1U);
    EXPECT_EQ(chains[0]["name"], "forward");
    EXPECT_EQ(chains[0]["type"], "filter");
    EXPECT_EQ(chains[0]["hook"], "forward");
    EXPECT_EQ(chains[0]["prio"], 0);
    EXPECT_EQ(chains[0]["policy"], "accept");

    const std::vector<json> rules = objects(items, "rule");
    ASSERT_EQ(rules.size(), 1U) << items.dump();
    EXPECT_EQ(rules[0]["chain"], "forward");
    expect_relay_expr(rules[0]);
}

TEST(NftForwarding, EnsureRepairsOurChainWhenItWasChanged) {
    WGMESH_REQUIRE_NFT();
    TestNamespace ns("nft-repair");
    load_ruleset(ns, R"(
table inet wgmesh-mesh0 {
    chain forward {
        type filter hook forward priority 10; policy drop;
        iifname "x" accept
        iifname "mesh0" oifname "mesh0" accept comment "wgmesh:mesh0"
    }
    chain stray {
    }
}
)");
    {
        auto scope = ns.enter();
        NftForwarding(kMesh).ensure();
    }
    const json items = ruleset(ns);
    const std::vector<json> chains = objects(items, "chain");
    ASSERT_EQ(chains.size(), 1U) << items.dump();
    EXPECT_EQ(chains[0]["prio"], 0);
    EXPECT_EQ(chains[0]["policy"], "accept");
    const std::vector<json> rules = objects(items, "rule");
    ASSERT_EQ(rules.size(), 1U) << items.dump();
    expect_relay_expr(rules[0]);
}

TEST(NftForwarding, DockerLikeForwardChainsGetOurAcceptOnTopExactlyOnce) {
    WGMESH_REQUIRE_NFT();
    TestNamespace ns("nft-docker");
    load_ruleset(ns, kDockerLikeRuleset);
    const json before = ruleset(ns);
    {
        auto scope = ns.enter();
        NftForwarding forwarding(kMesh);
        for (int i = 0; i < 4; ++i) {
            forwarding.ensure();
        }
    }
    const json items = ruleset(ns);
    for (const char* family : {"ip", "ip6"}) {
        const std::vector<json> forward = rules_in(items, family, "filter", "FORWARD");
        ASSERT_FALSE(forward.empty()) << family;
        expect_relay_expr(forward[0]);
        int ours = 0;
        for (const json& rule : forward) {
            ours += rule.value("comment", "") == "wgmesh:mesh0" ? 1 : 0;
        }
        EXPECT_EQ(ours, 1) << family << ": " << items.dump();
    }
    ASSERT_EQ(rules_in(items, "inet", "wgmesh-mesh0", "forward").size(), 1U);
    EXPECT_EQ(rules_in(items, "inet", "filter", "forward").size(), 1U);
    // Everything that is not ours is exactly as it was.
    EXPECT_EQ(without_ours(items).dump(), before.dump());
}

TEST(NftForwarding, RemoveLeavesForeignTablesAndRulesExactlyAsTheyWere) {
    WGMESH_REQUIRE_NFT();
    TestNamespace ns("nft-remove");
    load_ruleset(ns, kDockerLikeRuleset);
    const json before = ruleset(ns);
    {
        auto scope = ns.enter();
        NftForwarding forwarding(kMesh);
        forwarding.ensure();
        forwarding.ensure();
        ASSERT_NE(ruleset(ns).dump(), before.dump());
        forwarding.remove();
        forwarding.remove();  // nothing left to remove: still fine
    }
    EXPECT_EQ(ruleset(ns).dump(), before.dump());
}

TEST(NftForwarding, RemoveTouchesNeitherOtherInterfacesNorForeignComments) {
    WGMESH_REQUIRE_NFT();
    TestNamespace ns("nft-other");
    load_ruleset(ns, kDockerLikeRuleset);
    {
        auto scope = ns.enter();
        NftForwarding other("mesh1");
        other.ensure();
        const json with_other = ruleset(ns);
        NftForwarding forwarding(kMesh);
        forwarding.ensure();
        forwarding.remove();
        EXPECT_EQ(ruleset(ns).dump(), with_other.dump());
        other.remove();
    }
}

TEST(NftForwarding, LeavesOurRuleWhereItIsWhenAnotherToolInsertsAboveIt) {
    WGMESH_REQUIRE_NFT();
    TestNamespace ns("nft-moved");
    load_ruleset(ns, kDockerLikeRuleset);
    auto scope = ns.enter();
    NftForwarding forwarding(kMesh);
    forwarding.ensure();
    // Docker re-inserting its DOCKER-USER jump at the top on restart.
    ns.exec_checked({"nft", "insert", "rule", "ip", "filter", "FORWARD", "jump", "DOCKER-USER"});
    const std::vector<json> moved = rules_in(ruleset(ns), "ip", "filter", "FORWARD");
    forwarding.ensure();
    const std::vector<json> forward = rules_in(ruleset(ns), "ip", "filter", "FORWARD");
    EXPECT_EQ(forward, moved);
    ASSERT_GE(forward.size(), 2U);
    EXPECT_EQ(forward[0]["expr"], json::parse(R"([{"jump": {"target": "DOCKER-USER"}}])"));
    expect_relay_expr(forward[1]);
}

TEST(NftForwarding, ReplacesDuplicatedOrAlteredTaggedRules) {
    WGMESH_REQUIRE_NFT();
    TestNamespace ns("nft-dup");
    load_ruleset(ns, kDockerLikeRuleset);
    ns.exec_checked({"nft", "insert", "rule", "ip", "filter", "FORWARD", "iifname", "mesh0", "drop",
                     "comment", "\"wgmesh:mesh0\""});
    ns.exec_checked({"nft", "add", "rule", "ip", "filter", "FORWARD", "iifname", "mesh0", "oifname",
                     "mesh0", "accept", "comment", "\"wgmesh:mesh0\""});
    ns.exec_checked({"nft", "add", "rule", "ip", "filter", "FORWARD", "iifname", "mesh0", "oifname",
                     "mesh0", "accept", "comment", "\"wgmesh:mesh0\""});
    {
        auto scope = ns.enter();
        NftForwarding(kMesh).ensure();
    }
    const std::vector<json> forward = rules_in(ruleset(ns), "ip", "filter", "FORWARD");
    int ours = 0;
    for (const json& rule : forward) {
        if (rule.value("comment", "") == "wgmesh:mesh0") {
            ++ours;
            expect_relay_expr(rule);
        }
    }
    EXPECT_EQ(ours, 1);
}

TEST(NftForwarding, WarnsOnceAboutADroppingChainItDoesNotManage) {
    WGMESH_REQUIRE_NFT();
    TestNamespace ns("nft-warn");
    load_ruleset(ns, R"(
table inet filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
    }
}
)");
    std::vector<std::string> seen;
    {
        auto scope = ns.enter();
        NftForwardingOptions options;
        options.warn = [&seen](const std::string& message) { seen.push_back(message); };
        NftForwarding forwarding(kMesh, options);
        forwarding.ensure();
        forwarding.ensure();
        EXPECT_EQ(forwarding.warnings(), seen);
    }
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_NE(seen[0].find("inet filter forward"), std::string::npos) << seen[0];
    EXPECT_NE(seen[0].find("mesh0"), std::string::npos) << seen[0];
}

// Makes the kernel instantiate the iptables-legacy "filter" table in the calling thread's
// namespace, as the first `iptables-legacy -L` would.
bool instantiate_legacy_filter_table() {
    const int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) {
        return false;
    }
    ipt_getinfo info{};
    std::strncpy(info.name, "filter", sizeof(info.name) - 1);
    socklen_t length = sizeof(info);
    const bool ok = getsockopt(fd, SOL_IP, IPT_SO_GET_INFO, &info, &length) == 0;
    close(fd);
    return ok;
}

TEST(NftForwarding, WarnsOnceWhenIptablesLegacyTablesExist) {
    WGMESH_REQUIRE_NFT();
    TestNamespace clean("nft-nolegacy");
    {
        auto scope = clean.enter();
        NftForwarding forwarding(kMesh);
        forwarding.ensure();
        EXPECT_TRUE(forwarding.warnings().empty());
    }
    TestNamespace ns("nft-legacy");
    auto scope = ns.enter();
    if (!instantiate_legacy_filter_table()) {
        GTEST_SKIP() << "legacy test skipped: this kernel has no iptables-legacy filter table";
    }
    int calls = 0;
    NftForwardingOptions options;
    options.warn = [&calls](const std::string&) { ++calls; };
    NftForwarding forwarding(kMesh, options);
    forwarding.ensure();
    forwarding.ensure();
    forwarding.ensure();
    EXPECT_EQ(calls, 1);
    ASSERT_EQ(forwarding.warnings().size(), 1U);
    EXPECT_NE(forwarding.warnings()[0].find("iptables-legacy"), std::string::npos);
    EXPECT_NE(forwarding.warnings()[0].find("filter"), std::string::npos);
}

// --- A relay that really forwards ---------------------------------------------------------

std::uint16_t icmp_checksum(const std::uint8_t* data, std::size_t length) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < length; i += 2) {
        sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    }
    if (length % 2 != 0) {
        sum += static_cast<std::uint32_t>(data[length - 1] << 8);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(~sum);
}

// One ICMP echo from inside `from` to `to`; true when the matching reply arrives in time.
bool ping_once(const TestNamespace& from, const char* to, std::chrono::milliseconds timeout) {
    auto scope = from.enter();
    const int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0) {
        throw std::runtime_error(std::string("raw ICMP socket: ") + std::strerror(errno));
    }
    static std::uint16_t sequence = 0;
    const std::uint16_t id = static_cast<std::uint16_t>(getpid());
    const std::uint16_t seq = ++sequence;
    std::uint8_t request[16] = {ICMP_ECHO,
                                0,
                                0,
                                0,
                                static_cast<std::uint8_t>(id >> 8),
                                static_cast<std::uint8_t>(id),
                                static_cast<std::uint8_t>(seq >> 8),
                                static_cast<std::uint8_t>(seq),
                                'w',
                                'g',
                                'm',
                                'e',
                                's',
                                'h'};
    const std::uint16_t checksum = icmp_checksum(request, sizeof(request));
    request[2] = static_cast<std::uint8_t>(checksum >> 8);
    request[3] = static_cast<std::uint8_t>(checksum);
    sockaddr_in target{};
    target.sin_family = AF_INET;
    inet_pton(AF_INET, to, &target.sin_addr);
    bool replied = false;
    if (sendto(fd, request, sizeof(request), 0, reinterpret_cast<sockaddr*>(&target),
               sizeof(target)) == static_cast<ssize_t>(sizeof(request))) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!replied) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd pfd{fd, POLLIN, 0};
            if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
                break;
            }
            std::uint8_t reply[1500];
            const ssize_t n = recv(fd, reply, sizeof(reply), 0);
            if (n < 20) {
                continue;
            }
            const std::size_t header = static_cast<std::size_t>(reply[0] & 0x0f) * 4;
            if (static_cast<std::size_t>(n) < header + 8) {
                continue;
            }
            const std::uint8_t* icmp = reply + header;
            replied = icmp[0] == ICMP_ECHOREPLY && icmp[4] == request[4] && icmp[5] == request[5] &&
                      icmp[6] == request[6] && icmp[7] == request[7] &&
                      std::memcmp(reply + 12, &target.sin_addr, 4) == 0;
        }
    }
    close(fd);
    return replied;
}

// One-second echoes until one is answered or `within` has passed: a reply ends the wait at
// once, so positive checks get a bound a loaded machine cannot miss, and a negative check
// (1 s) waits for one echo.
bool ping(const TestNamespace& from, const char* to, std::chrono::seconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    do {
        if (ping_once(from, to, std::chrono::milliseconds(1000))) {
            return true;
        }
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
}

constexpr std::chrono::seconds kReachable{30};
constexpr std::chrono::seconds kDropped{1};

void add_port(const TestNamespace& ns, const std::string& inside, const std::string& cidr,
              const TestNamespace& sw, const std::string& port) {
    ns.exec_checked(
        {"ip", "link", "add", inside, "type", "veth", "peer", "name", port, "netns", sw.name()});
    ns.exec_checked({"ip", "addr", "add", cidr, "dev", inside});
    ns.exec_checked({"ip", "link", "set", inside, "up"});
    sw.exec_checked({"ip", "link", "set", port, "master", "br0"});
    sw.exec_checked({"ip", "link", "set", port, "up"});
}

void no_redirects(const TestNamespace& ns) {
    for (const char* setting :
         {"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0",
          "net.ipv4.conf.all.accept_redirects=0", "net.ipv4.conf.default.accept_redirects=0"}) {
        ns.exec_checked({"sysctl", "-q", "-w", setting});
    }
}

// A, B and C share one L2 segment (a bridge in S). A reaches C only via B and C answers via
// B, so in B every relayed packet enters and leaves the same interface, "mesh0", exactly as
// relay traffic on a WireGuard mesh interface does.
TEST(NftForwarding, RelayForwardsThroughDockerLikeDropOnlyOnceEnsured) {
    WGMESH_REQUIRE_NFT();
    TestNamespace sw("nft-sw");
    TestNamespace a("nft-a");
    TestNamespace b("nft-b");
    TestNamespace c("nft-c");
    sw.exec_checked({"ip", "link", "add", "br0", "type", "bridge"});
    sw.exec_checked({"ip", "link", "set", "br0", "up"});
    for (const TestNamespace* ns : {&a, &b, &c}) {
        no_redirects(*ns);
    }
    add_port(a, "eth0", "10.77.0.1/24", sw, "pa");
    add_port(b, kMesh, "10.77.0.2/24", sw, "pb");
    add_port(c, "eth0", "10.77.0.3/24", sw, "pc");
    a.exec_checked({"ip", "route", "add", "10.77.0.3/32", "via", "10.77.0.2"});
    c.exec_checked({"ip", "route", "add", "10.77.0.1/32", "via", "10.77.0.2"});
    ASSERT_TRUE(ping(a, "10.77.0.2", kReachable)) << "the segment itself does not work";

    load_ruleset(b, kDockerLikeRuleset);
    b.exec_checked({"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"});
    EXPECT_FALSE(ping(a, "10.77.0.3", kDropped)) << "Docker-like policy drop did not drop";

    b.exec_checked({"sysctl", "-q", "-w", "net.ipv4.ip_forward=0"});
    auto scope = b.enter();
    NftForwarding forwarding(kMesh);
    forwarding.ensure();
    EXPECT_EQ(ip_forward(b), "1\n");
    EXPECT_TRUE(ping(a, "10.77.0.3", kReachable)) << "relay did not forward after ensure()";

    // Our own table alone is not enough: without the accept in FORWARD the drop wins.
    const std::vector<json> forward = rules_in(ruleset(b), "ip", "filter", "FORWARD");
    ASSERT_FALSE(forward.empty());
    b.exec_checked({"nft", "delete", "rule", "ip", "filter", "FORWARD", "handle",
                    std::to_string(forward[0]["handle"].get<std::uint64_t>())});
    EXPECT_FALSE(ping(a, "10.77.0.3", kDropped)) << "forwarded without the FORWARD accept";
    forwarding.ensure();
    EXPECT_TRUE(ping(a, "10.77.0.3", kReachable)) << "relay did not forward after re-ensure()";

    forwarding.remove();
    EXPECT_FALSE(ping(a, "10.77.0.3", kDropped)) << "still forwarding after remove()";
}

}  // namespace
}  // namespace wgmesh::netlink
