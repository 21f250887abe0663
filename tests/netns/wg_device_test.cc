// WireGuard interfaces created and configured only through wg/ (ensure_interface, apply),
// checked against what `wg show <if> dump` reads back from the device. Every fixture names
// its backend: WgDeviceTest is the userspace one (UAPI transactions, wireguard-go processes)
// on any kernel; WgKernelDeviceTest runs the backend-neutral checks on the kernel's WireGuard
// where the module exists.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>

#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "wg/device_factory.h"
#include "wg/kernel_backend.h"
#include "wg/uapi_backend.h"

namespace wgmesh::wg {
namespace {

using netlink::Prefix;
using netlink::SocketAddress;
using test::TestNamespace;

// The socket directory is shared by all namespaces: interface names must be unique per test.
std::string unique_name(const std::string& tag) {
    static std::atomic<int> counter{0};
    return tag + std::to_string(getpid() % 100000) + "x" + std::to_string(counter++);
}

struct DumpPeer {
    std::string psk, endpoint;
    std::set<std::string> allowed_ips;
    std::string keepalive;
};
struct Dump {
    std::string private_key, public_key, listen_port, fwmark;
    std::map<std::string, DumpPeer> peers;  // by base64 public key
};

// `wg show IF dump`: one tab-separated line for the device, one per peer.
Dump wg_dump(const TestNamespace& ns, const std::string& ifname) {
    const std::string out = ns.exec_checked({"wg", "show", ifname, "dump"});
    std::istringstream lines(out);
    std::string line;
    Dump dump;
    bool first = true;
    while (std::getline(lines, line)) {
        std::vector<std::string> f;
        std::istringstream fields(line);
        for (std::string field; std::getline(fields, field, '\t');)
            f.push_back(field);
        if (first) {
            EXPECT_EQ(f.size(), 4u) << line;
            dump.private_key = f.at(0);
            dump.public_key = f.at(1);
            dump.listen_port = f.at(2);
            dump.fwmark = f.at(3);
            first = false;
            continue;
        }
        EXPECT_EQ(f.size(), 8u) << line;
        DumpPeer peer;
        peer.psk = f.at(1);
        peer.endpoint = f.at(2);
        std::istringstream ips(f.at(3));
        for (std::string ip; std::getline(ips, ip, ',');)
            if (ip != "(none)")
                peer.allowed_ips.insert(ip);
        peer.keepalive = f.at(7);
        dump.peers[f.at(0)] = peer;
    }
    return dump;
}

std::uint16_t icmp_checksum(const std::uint8_t* data, std::size_t length) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < length; i += 2)
        sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

// One ICMP echo (the machine may have no ping binary); true when the reply arrives in 1 s.
// Callers retry until their own deadline.
bool ping_once(const TestNamespace& ns, const std::string& to) {
    const auto scope = ns.enter();
    const int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "raw ICMP socket");
    static std::atomic<std::uint8_t> sequence{0};
    std::uint8_t request[16] = {ICMP_ECHO, 0, 0, 0, 0x77, 0x67, 0, ++sequence, 'w', 'g'};
    const std::uint16_t sum = icmp_checksum(request, sizeof(request));
    request[2] = static_cast<std::uint8_t>(sum >> 8);
    request[3] = static_cast<std::uint8_t>(sum);
    sockaddr_in target{};
    target.sin_family = AF_INET;
    inet_pton(AF_INET, to.c_str(), &target.sin_addr);
    bool replied = false;
    if (sendto(fd, request, sizeof(request), 0, reinterpret_cast<sockaddr*>(&target),
               sizeof(target)) == static_cast<ssize_t>(sizeof(request))) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (!replied) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd pfd{fd, POLLIN, 0};
            if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
                break;
            std::uint8_t reply[1500];
            const ssize_t n = recv(fd, reply, sizeof(reply), 0);
            if (n < 28)
                continue;
            const std::size_t header = static_cast<std::size_t>(reply[0] & 0x0f) * 4;
            const std::uint8_t* icmp = reply + header;
            replied = static_cast<std::size_t>(n) >= header + 8 && icmp[0] == ICMP_ECHOREPLY &&
                      std::memcmp(icmp + 4, request + 4, 4) == 0 &&
                      std::memcmp(reply + 12, &target.sin_addr, 4) == 0;
        }
    }
    close(fd);
    return replied;
}

struct Node {
    std::unique_ptr<TestNamespace> ns;
    std::string ifname;
    std::string underlay;  // veth address
    std::string tunnel;    // address inside the tunnel
    Key private_key = Key::generate_private();
    std::unique_ptr<WireGuardDevice> device;
};

PeerConfig peer_for(const Node& other, const Key& psk) {
    PeerConfig peer;
    peer.public_key = other.private_key.public_key();
    peer.endpoint = SocketAddress::parse(other.underlay + ":51820");
    peer.allowed_ips = {Prefix::parse_or_throw(other.tunnel + "/32")};
    peer.preshared_key = psk;
    peer.persistent_keepalive = 25;
    return peer;
}

DeviceConfig config_for(const Node& self, const Node& other, const Key& psk) {
    DeviceConfig config;
    config.private_key = self.private_key;
    config.listen_port = 51820;
    config.peers.push_back(peer_for(other, psk));
    return config;
}

// Whether this kernel can create WireGuard links (tried in a namespace of its own).
bool kernel_has_wireguard() {
    TestNamespace ns("wgm");
    return ns.exec({"ip", "link", "add", "wgm0", "type", "wireguard"}).exit_code == 0;
}

class WgDeviceTest : public ::testing::Test {
  protected:
    // The backend under test, chosen explicitly: the userspace one even where the kernel has
    // WireGuard (which auto would pick).
    virtual BackendChoice backend() const { return BackendChoice::kUserspace; }
    DeviceOptions options() const {
        DeviceOptions options;
        options.backend = backend();
        return options;
    }

    void SetUp() override {
        if (!test::netns_unavailable_reason().empty())
            GTEST_SKIP() << test::netns_unavailable_reason();
        if (backend() == BackendChoice::kKernel) {
            if (!test::program_exists("wg"))
                GTEST_SKIP() << "wg is not installed: kernel WireGuard not tested";
            if (!kernel_has_wireguard())
                GTEST_SKIP() << "kernel has no WireGuard module: kernel backend tested with "
                                "golden bytes";
        } else if (!test::program_exists("wireguard-go") || !test::program_exists("wg")) {
            GTEST_SKIP() << "wireguard-go or wg is not installed: userspace WireGuard not tested";
        }
        a_.ns = std::make_unique<TestNamespace>("wga");
        b_.ns = std::make_unique<TestNamespace>("wgb");
        a_.underlay = "192.168.77.1";
        b_.underlay = "192.168.77.2";
        a_.tunnel = "10.99.0.1";
        b_.tunnel = "10.99.0.2";
        test::connect_veth(*a_.ns, "veth-a", a_.underlay + "/24", *b_.ns, "veth-b",
                           b_.underlay + "/24");
        for (Node* node : {&a_, &b_}) {
            node->ifname = unique_name("wgt");
            const auto scope = node->ns->enter();
            EnsuredInterface ensured = ensure_interface(node->ifname, options());
            EXPECT_TRUE(ensured.created);
            EXPECT_EQ(ensured.backend,
                      backend() == BackendChoice::kKernel ? Backend::kKernel : Backend::kUserspace);
            node->device = std::move(ensured.device);
            node->ns->exec_checked(
                {"ip", "addr", "add", node->tunnel + "/24", "dev", node->ifname});
        }
    }

    // Before the namespaces go: remove_interface() stops wireguard-go with SIGTERM, so its
    // socket leaves the directory every namespace shares, which the test checks.
    void TearDown() override {
        for (Node* node : {&a_, &b_}) {
            if (!node->ns || node->ifname.empty())
                continue;
            const auto scope = node->ns->enter();
            remove_interface(node->ifname, options());
            const std::string socket =
                std::string(UapiDevice::kDefaultSocketDirectory) + "/" + node->ifname + ".sock";
            EXPECT_FALSE(std::filesystem::exists(socket)) << "left behind: " << socket;
            std::filesystem::remove(socket);
        }
    }

    void apply(Node& node, const DeviceConfig& config) {
        const auto scope = node.ns->enter();
        node.device->apply(config);
    }

    std::uint64_t transactions(const Node& node) {
        const auto* uapi = dynamic_cast<const UapiDevice*>(node.device.get());
        return uapi ? uapi->transactions_sent() : 0;
    }

    // Retried until a reply or 30 s (the first echo waits for the handshake): a bound for a
    // loaded machine that a working tunnel never reaches.
    bool ping(const Node& from, const Node& to) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        do {
            if (ping_once(*from.ns, to.tunnel))
                return true;
        } while (std::chrono::steady_clock::now() < deadline);
        return false;
    }

    void expect_ping_crosses_the_tunnel_and_dump_matches();
    void expect_changing_allowed_ips_replaces_them();

    Node a_, b_;
    const Key psk_ = Key::generate_private();
};

class WgKernelDeviceTest : public WgDeviceTest {
  protected:
    BackendChoice backend() const override { return BackendChoice::kKernel; }
};

TEST_F(WgDeviceTest, CreatedInterfaceIsUserspaceAndUp) {
    EXPECT_NE(dynamic_cast<UapiDevice*>(a_.device.get()), nullptr)
        << "the userspace backend was chosen";
    const std::string link = a_.ns->exec_checked({"ip", "-o", "link", "show", a_.ifname});
    EXPECT_NE(link.find("UP"), std::string::npos) << link;
    EXPECT_EQ(test::wireguard_go_pids(a_.ifname).size(), 1u);
    const auto scope = a_.ns->enter();
    // What wg(8) would pick, too.
    EXPECT_EQ(detect_backend(a_.ifname), Backend::kUserspace);
    // Adopting an existing interface creates nothing, on auto as on userspace.
    for (const BackendChoice choice : {BackendChoice::kUserspace, BackendChoice::kAuto}) {
        DeviceOptions adopt;
        adopt.backend = choice;
        const EnsuredInterface again = ensure_interface(a_.ifname, adopt);
        EXPECT_FALSE(again.created);
        EXPECT_EQ(again.backend, Backend::kUserspace);
    }
    // The kernel backend does not take a userspace interface.
    DeviceOptions kernel;
    kernel.backend = BackendChoice::kKernel;
    try {
        ensure_interface(a_.ifname, kernel);
        FAIL() << "the kernel backend adopted a userspace interface";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("kernel backend was chosen"), std::string::npos)
            << e.what();
    }
}

TEST_F(WgKernelDeviceTest, CreatedInterfaceIsTheKernelsAndUp) {
    EXPECT_NE(dynamic_cast<KernelDevice*>(a_.device.get()), nullptr);
    const std::string link = a_.ns->exec_checked({"ip", "-d", "-o", "link", "show", a_.ifname});
    EXPECT_NE(link.find("UP"), std::string::npos) << link;
    EXPECT_NE(link.find("wireguard"), std::string::npos) << link;
    EXPECT_TRUE(test::wireguard_go_pids(a_.ifname).empty());
    const auto scope = a_.ns->enter();
    EXPECT_EQ(detect_backend(a_.ifname), Backend::kKernel);
    const EnsuredInterface again = ensure_interface(a_.ifname, options());
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.backend, Backend::kKernel);
    // The userspace backend does not take a kernel interface: nothing answers on its socket.
    DeviceOptions userspace;
    userspace.backend = BackendChoice::kUserspace;
    EXPECT_THROW(ensure_interface(a_.ifname, userspace), std::runtime_error);
}

void WgDeviceTest::expect_ping_crosses_the_tunnel_and_dump_matches() {
    const DeviceConfig config_a = config_for(a_, b_, psk_);
    apply(a_, config_a);
    apply(b_, config_for(b_, a_, psk_));
    EXPECT_TRUE(ping(a_, b_)) << "no ping through the tunnel";

    const Dump dump = wg_dump(*a_.ns, a_.ifname);
    EXPECT_EQ(dump.private_key, a_.private_key.to_base64());
    EXPECT_EQ(dump.public_key, a_.private_key.public_key().to_base64());
    EXPECT_EQ(dump.listen_port, "51820");
    EXPECT_EQ(dump.fwmark, "off");
    ASSERT_EQ(dump.peers.size(), 1u);
    const auto& [key, peer] = *dump.peers.begin();
    EXPECT_EQ(key, b_.private_key.public_key().to_base64());
    EXPECT_EQ(peer.psk, psk_.to_base64());
    EXPECT_EQ(peer.endpoint, b_.underlay + ":51820");
    EXPECT_EQ(peer.allowed_ips, std::set<std::string>{b_.tunnel + "/32"});
    EXPECT_EQ(peer.keepalive, "25");

    // get() reads back what `wg` sees.
    const auto scope = a_.ns->enter();
    const DeviceConfig read = a_.device->get();
    EXPECT_EQ(read.private_key, a_.private_key);
    ASSERT_EQ(read.peers.size(), 1u);
    EXPECT_GT(read.peers[0].rx_bytes, 0u);
    EXPECT_GT(read.peers[0].last_handshake_unix, 0);
}

TEST_F(WgDeviceTest, PingCrossesTheTunnelAndDumpMatches) {
    expect_ping_crosses_the_tunnel_and_dump_matches();
}

TEST_F(WgKernelDeviceTest, PingCrossesTheTunnelAndDumpMatches) {
    expect_ping_crosses_the_tunnel_and_dump_matches();
}

TEST_F(WgDeviceTest, ReapplyingTheSameConfigSendsNothing) {
    const DeviceConfig config = config_for(a_, b_, psk_);
    apply(a_, config);
    EXPECT_EQ(transactions(a_), 1u);
    const Dump before = wg_dump(*a_.ns, a_.ifname);
    for (int i = 0; i < 3; ++i)
        apply(a_, config);
    EXPECT_EQ(transactions(a_), 1u) << "an unchanged config must send no transaction";
    const Dump after = wg_dump(*a_.ns, a_.ifname);
    EXPECT_EQ(after.peers.size(), before.peers.size());
    EXPECT_EQ(after.peers.begin()->second.allowed_ips, before.peers.begin()->second.allowed_ips);
}

TEST_F(WgDeviceTest, RemovingAPeerRemovesIt) {
    DeviceConfig config = config_for(a_, b_, psk_);
    PeerConfig extra;
    extra.public_key = Key::generate_private().public_key();
    extra.allowed_ips = {Prefix::parse_or_throw("10.99.5.0/24")};
    config.peers.push_back(extra);
    apply(a_, config);
    EXPECT_EQ(wg_dump(*a_.ns, a_.ifname).peers.size(), 2u);

    config.peers.pop_back();
    apply(a_, config);
    const Dump dump = wg_dump(*a_.ns, a_.ifname);
    ASSERT_EQ(dump.peers.size(), 1u);
    EXPECT_EQ(dump.peers.begin()->first, b_.private_key.public_key().to_base64());
    EXPECT_EQ(transactions(a_), 2u);
}

void WgDeviceTest::expect_changing_allowed_ips_replaces_them() {
    DeviceConfig config = config_for(a_, b_, psk_);
    config.peers[0].allowed_ips.push_back(Prefix::parse_or_throw("172.16.0.0/16"));
    apply(a_, config);
    EXPECT_EQ(wg_dump(*a_.ns, a_.ifname).peers.begin()->second.allowed_ips,
              (std::set<std::string>{b_.tunnel + "/32", "172.16.0.0/16"}));

    config.peers[0].allowed_ips = {Prefix::parse_or_throw(b_.tunnel + "/32"),
                                   Prefix::parse_or_throw("fd00:99::/64")};
    apply(a_, config);
    EXPECT_EQ(wg_dump(*a_.ns, a_.ifname).peers.begin()->second.allowed_ips,
              (std::set<std::string>{b_.tunnel + "/32", "fd00:99::/64"}));

    // Dropping PSK and keepalive zeroes them on the device.
    config.peers[0].preshared_key.reset();
    config.peers[0].persistent_keepalive = 0;
    apply(a_, config);
    const DumpPeer peer = wg_dump(*a_.ns, a_.ifname).peers.begin()->second;
    EXPECT_EQ(peer.psk, "(none)");
    EXPECT_EQ(peer.keepalive, "off");
}

TEST_F(WgDeviceTest, ChangingAllowedIpsReplacesThem) {
    expect_changing_allowed_ips_replaces_them();
}

TEST_F(WgKernelDeviceTest, ChangingAllowedIpsReplacesThem) {
    expect_changing_allowed_ips_replaces_them();
}

TEST_F(WgDeviceTest, RemoveInterfaceStopsTheUserspaceProcess) {
    const std::string socket =
        std::string(UapiDevice::kDefaultSocketDirectory) + "/" + a_.ifname + ".sock";
    ASSERT_TRUE(UapiDevice::socket_answers(socket));
    {
        const auto scope = a_.ns->enter();
        EXPECT_TRUE(remove_interface(a_.ifname));
        EXPECT_FALSE(remove_interface(a_.ifname));
    }
    EXPECT_NE(a_.ns->exec({"ip", "link", "show", a_.ifname}).exit_code, 0);
    EXPECT_FALSE(UapiDevice::socket_answers(socket));
    // Asked from outside: `ip netns exec` would list the `ip` process itself.
    std::istringstream pids(test::run_checked({"ip", "netns", "pids", a_.ns->name()}));
    for (std::string pid; pids >> pid;) {
        std::ifstream status("/proc/" + pid + "/status");
        std::string name_line, state_line;
        std::getline(status, name_line);
        while (std::getline(status, state_line) && !state_line.starts_with("State:")) {
        }
        if (!name_line.empty()) {
            EXPECT_NE(state_line.find("zombie"), std::string::npos)
                << "process " << pid << " (" << name_line << ") still runs in the namespace";
        }
    }
}

// Forced userspace: the program is started even where the kernel has WireGuard.
TEST(WgDeviceErrors, MissingUserspaceProgramIsAClearError) {
    WGMESH_REQUIRE_NETNS();
    TestNamespace ns("wge");
    const auto scope = ns.enter();
    DeviceOptions options;
    options.backend = BackendChoice::kUserspace;
    options.userspace_program = "/nonexistent/wireguard-go";
    const std::string name = unique_name("wge");
    try {
        ensure_interface(name, options);
        remove_interface(name, options);
        FAIL() << "a missing userspace program created " << name;
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("/nonexistent/wireguard-go"), std::string::npos) << what;
        EXPECT_NE(what.find(name), std::string::npos) << what;
    }
    EXPECT_NE(ns.exec({"ip", "link", "show", name}).exit_code, 0);
}

// Forced kernel: never a userspace program; without the module, an error that says so.
TEST(WgDeviceErrors, KernelBackendNeverStartsTheUserspaceProgram) {
    WGMESH_REQUIRE_NETNS();
    const bool kernel_wireguard = kernel_has_wireguard();
    TestNamespace ns("wgn");
    const auto scope = ns.enter();
    DeviceOptions options;
    options.backend = BackendChoice::kKernel;
    options.userspace_program = "/nonexistent/wireguard-go";
    const std::string name = unique_name("wgn");
    const std::string socket =
        std::string(UapiDevice::kDefaultSocketDirectory) + "/" + name + ".sock";
    if (kernel_wireguard) {
        const EnsuredInterface ensured = ensure_interface(name, options);
        EXPECT_EQ(ensured.backend, Backend::kKernel);
        EXPECT_TRUE(ensured.created);
        EXPECT_TRUE(remove_interface(name, options));
    } else {
        try {
            ensure_interface(name, options);
            FAIL() << "no exception";
        } catch (const std::system_error& e) {
            const std::string what = e.what();
            EXPECT_EQ(e.code().value(), EOPNOTSUPP) << what;
            EXPECT_NE(what.find(name), std::string::npos) << what;
            EXPECT_NE(what.find("no WireGuard"), std::string::npos) << what;
            EXPECT_EQ(what.find("/nonexistent/wireguard-go"), std::string::npos) << what;
        }
    }
    EXPECT_FALSE(std::filesystem::exists(socket));
    EXPECT_TRUE(test::wireguard_go_pids(name).empty());
}

TEST(WgDeviceErrors, ForeignLinkOfTheSameNameIsRefused) {
    WGMESH_REQUIRE_NETNS();
    TestNamespace ns("wgf");
    const std::string name = unique_name("wgf");
    ns.exec_checked({"ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"});
    const auto scope = ns.enter();
    try {
        ensure_interface(name);
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("not WireGuard"), std::string::npos) << e.what();
    }
}

// The kernel backend for real, where the module exists.
TEST(KernelDeviceNetns, AppliesAndReadsBack) {
    WGMESH_REQUIRE_NETNS();
    TestNamespace ns("wgk");
    if (ns.exec({"ip", "link", "add", "wgk0", "type", "wireguard"}).exit_code != 0)
        GTEST_SKIP() << "kernel has no WireGuard module: kernel backend tested with golden bytes";
    const auto scope = ns.enter();
    KernelDevice device("wgk0");
    DeviceConfig config;
    config.private_key = Key::generate_private();
    config.listen_port = 51999;
    for (int i = 0; i < 300; ++i) {
        PeerConfig peer;
        peer.public_key = Key::generate_private().public_key();
        peer.allowed_ips = {Prefix(netlink::IpAddress::v4(10, 1, i >> 8, i & 255), 32),
                            Prefix::parse_or_throw("fd00:" + std::to_string(i) + "::/64")};
        config.peers.push_back(peer);
    }
    device.apply(config);
    EXPECT_GT(device.messages_sent(), 1u) << "300 peers do not fit one message";
    const auto sent = device.messages_sent();
    device.apply(config);
    EXPECT_EQ(device.messages_sent(), sent);
    const DeviceConfig read = device.get();
    EXPECT_EQ(read.peers.size(), 300u);
    EXPECT_EQ(read.private_key, config.private_key);
    EXPECT_TRUE(compute_device_update(read, config).empty());
}

}  // namespace
}  // namespace wgmesh::wg
