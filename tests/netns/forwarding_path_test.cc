// The forwarding-path check against a real kernel: each test builds a firewall (with `nft -f`,
// as Docker's iptables-nft, firewalld and ufw leave it) and sysctls in a private namespace,
// then ForwardingProbe reads them back and check_forwarding_path() must give the right
// verdict. tests/unit/forwarding_path_test.cc holds the JSON these rulesets list as.
#include "mesh/forwarding_path.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "netlink/forwarding_probe.h"
#include "netlink/nft_forwarding.h"
#include "tests/support/netns.h"

namespace wgmesh::netlink {
namespace {

using mesh::CheckVerdict;
using mesh::ForwardingCheck;
using mesh::ForwardingPathReport;
using test::TestNamespace;

constexpr const char* kMesh = "wg0";

#define WGMESH_REQUIRE_NFT()                                                            \
    do {                                                                                \
        WGMESH_REQUIRE_NETNS();                                                         \
        if (!::wgmesh::test::program_exists("nft"))                                     \
            GTEST_SKIP() << "forwarding path test skipped: nft(8) is not installed to " \
                            "build the rulesets";                                       \
    } while (0)

constexpr const char* kDockerLike = R"(
table ip filter {
    chain DOCKER {
    }
    chain DOCKER-ISOLATION-STAGE-1 {
        iifname "docker0" oifname != "docker0" counter jump DOCKER-ISOLATION-STAGE-2
        counter return
    }
    chain DOCKER-ISOLATION-STAGE-2 {
        oifname "docker0" counter drop
        counter return
    }
    chain DOCKER-USER {
        counter return
    }
    chain FORWARD {
        type filter hook forward priority filter; policy drop;
        counter jump DOCKER-USER
        counter jump DOCKER-ISOLATION-STAGE-1
        oifname "docker0" ct state related,established counter accept
        oifname "docker0" counter jump DOCKER
        iifname "docker0" oifname != "docker0" counter accept
        iifname "docker0" oifname "docker0" counter accept
    }
}
)";

constexpr const char* kFirewalldLike = R"(
table inet firewalld {
    chain filter_FORWARD {
        type filter hook forward priority filter + 10; policy accept;
        ct state { established, related } accept
        ct status dnat accept
        iifname "lo" accept
        ct state invalid drop
        ip6 daddr { ::/96, ::ffff:0.0.0.0/96, 2002::/24, 2002:a00::/24, 2002:7f00::/24, 2002:a9fe::/32, 2002:ac10::/28, 2002:c0a8::/32, 2002:e000::/19 } reject with icmpv6 addr-unreachable
        jump filter_FORWARD_ZONES
        reject with icmpx admin-prohibited
    }
    chain filter_FORWARD_ZONES {
        iifname "eth0" goto filter_FWD_public
        goto filter_FWD_public
    }
    chain filter_FWD_public {
        jump filter_FWD_public_allow
    }
    chain filter_FWD_public_allow {
        oifname "eth0" accept
    }
}
)";

// wg0 in a zone that forwards within itself (firewall-cmd --add-forward).
constexpr const char* kFirewalldForwardingZone = R"(
table inet firewalld {
    chain filter_FWD_trusted_allow {
        oifname "wg0" accept
    }
    chain filter_FWD_trusted {
        jump filter_FWD_trusted_allow
    }
}
insert rule inet firewalld filter_FORWARD_ZONES iifname "wg0" goto filter_FWD_trusted
)";

constexpr const char* kUfwLike = R"(
table ip filter {
    chain FORWARD {
        type filter hook forward priority filter; policy drop;
        counter jump ufw-before-logging-forward
        counter jump ufw-before-forward
        counter jump ufw-after-forward
        counter jump ufw-after-logging-forward
        counter jump ufw-reject-forward
        counter jump ufw-track-forward
    }
    chain ufw-before-logging-forward {
    }
    chain ufw-before-forward {
        ct state related,established counter accept
        icmp type destination-unreachable counter accept
        icmp type time-exceeded counter accept
        icmp type parameter-problem counter accept
        icmp type echo-request counter accept
        counter jump ufw-user-forward
    }
    chain ufw-user-forward {
    }
    chain ufw-after-forward {
    }
    chain ufw-after-logging-forward {
        limit rate 3/minute burst 10 packets counter log prefix "[UFW BLOCK] "
    }
    chain ufw-reject-forward {
    }
    chain ufw-track-forward {
    }
}
)";

// A namespace with the mesh interface (a veth stands in: the checks read its name and its
// sysctls only), forwarding on and no reverse-path filter: a healthy node without firewall.
class ForwardingPath : public ::testing::Test {
  protected:
    void SetUp() override {
        WGMESH_REQUIRE_NFT();
        ns_.emplace("fwdpath");
        ns_->exec_checked({"ip", "link", "add", kMesh, "type", "veth", "peer", "name", "wg0-peer"});
        sysctl("net.ipv4.ip_forward=1");
        sysctl("net.ipv4.conf.all.rp_filter=0");
        sysctl(std::string("net.ipv4.conf.") + kMesh + ".rp_filter=0");
    }

    void sysctl(const std::string& assignment) const {
        ns_->exec_checked({"sysctl", "-q", "-w", assignment});
    }
    void load(const std::string& ruleset) const { ns_->exec_checked({"nft", "-f", "-"}, ruleset); }

    // Reads the namespace's state the way the daemon would, then checks it.
    ForwardingPathReport check(bool ipv6 = false) const {
        auto scope = ns_->enter();
        ForwardingProbe probe(kMesh);
        return mesh::check_forwarding_path(probe.read(ipv6));
    }

    static ForwardingCheck find(const ForwardingPathReport& report, const std::string& name) {
        for (const ForwardingCheck& check : report.checks) {
            if (check.name == name) {
                return check;
            }
        }
        ADD_FAILURE() << "no check " << name << " in " << report.to_json().dump();
        return {};
    }

    std::optional<TestNamespace> ns_;
};

TEST_F(ForwardingPath, NoFirewallAndForwardingOnIsOk) {
    const ForwardingPathReport report = check();
    EXPECT_EQ(report.worst(), CheckVerdict::kOk) << report.to_json().dump(2);
    EXPECT_EQ(find(report, "nftables").verdict, CheckVerdict::kOk);
    EXPECT_EQ(find(report, "iptables_legacy").verdict, CheckVerdict::kOk);
}

TEST_F(ForwardingPath, IpForwardOffFails) {
    sysctl("net.ipv4.ip_forward=0");
    const ForwardingPathReport report = check();
    const ForwardingCheck ip_forward = find(report, "ip_forward");
    EXPECT_EQ(ip_forward.verdict, CheckVerdict::kFail);
    EXPECT_NE(ip_forward.reason.find("net.ipv4.ip_forward is 0"), std::string::npos)
        << ip_forward.reason;
    EXPECT_FALSE(report.ok());
}

TEST_F(ForwardingPath, InterfaceForwardingOffFails) {
    sysctl(std::string("net.ipv4.conf.") + kMesh + ".forwarding=0");
    const ForwardingCheck ip_forward = find(check(), "ip_forward");
    EXPECT_EQ(ip_forward.verdict, CheckVerdict::kFail);
    EXPECT_NE(ip_forward.reason.find("net.ipv4.conf.wg0.forwarding is 0"), std::string::npos)
        << ip_forward.reason;
}

TEST_F(ForwardingPath, StrictRpFilterWarnsAndLooseIsOk) {
    sysctl(std::string("net.ipv4.conf.") + kMesh + ".rp_filter=1");
    ForwardingPathReport report = check();
    EXPECT_EQ(find(report, "rp_filter").verdict, CheckVerdict::kWarn);
    EXPECT_TRUE(report.ok());
    sysctl(std::string("net.ipv4.conf.") + kMesh + ".rp_filter=0");
    sysctl("net.ipv4.conf.all.rp_filter=1");
    EXPECT_EQ(find(check(), "rp_filter").verdict, CheckVerdict::kWarn);
    sysctl(std::string("net.ipv4.conf.") + kMesh + ".rp_filter=2");  // max(1, 2): loose
    EXPECT_EQ(find(check(), "rp_filter").verdict, CheckVerdict::kOk);
}

TEST_F(ForwardingPath, IPv6ForwardingIsCheckedWhenIPv6RoutesAreAdvertised) {
    sysctl("net.ipv6.conf.all.forwarding=0");
    EXPECT_EQ(check(false).checks.size(), 4u);  // ip_forward, rp_filter, nftables, legacy
    EXPECT_EQ(find(check(true), "ipv6_forwarding").verdict, CheckVerdict::kFail);
    sysctl("net.ipv6.conf.all.forwarding=1");
    EXPECT_EQ(find(check(true), "ipv6_forwarding").verdict, CheckVerdict::kOk);
}

TEST_F(ForwardingPath, DockerLikeForwardDropFailsUntilOurTaggedAcceptIsIn) {
    load(kDockerLike);
    ForwardingPathReport report = check();
    ForwardingCheck docker = find(report, "nftables ip filter FORWARD");
    EXPECT_EQ(docker.verdict, CheckVerdict::kFail) << docker.reason;
    EXPECT_NE(docker.reason.find("its policy drop"), std::string::npos) << docker.reason;
    EXPECT_FALSE(report.ok());

    // What the daemon does each cycle: our table and the tagged accept in Docker's chain.
    {
        auto scope = ns_->enter();
        NftForwarding(kMesh).ensure();
    }
    report = check();
    docker = find(report, "nftables ip filter FORWARD");
    EXPECT_EQ(docker.verdict, CheckVerdict::kOk) << docker.reason;
    EXPECT_NE(docker.reason.find("wgmesh's tagged accept"), std::string::npos) << docker.reason;
    EXPECT_EQ(find(report, "nftables inet wgmesh-wg0 forward").verdict, CheckVerdict::kOk);
    EXPECT_TRUE(report.ok()) << report.to_json().dump(2);

    // Docker restarts and puts its DOCKER-USER jump back on top, above our accept; a drop
    // there is found.
    load(
        "insert rule ip filter DOCKER-USER iifname \"wg0\" counter drop\n"
        "insert rule ip filter FORWARD counter jump DOCKER-USER\n");
    docker = find(check(), "nftables ip filter FORWARD");
    EXPECT_EQ(docker.verdict, CheckVerdict::kFail);
    EXPECT_NE(docker.reason.find("in ip filter DOCKER-USER"), std::string::npos) << docker.reason;
}

TEST_F(ForwardingPath, FirewalldLikeFinalRejectFailsAndAForwardingZonePasses) {
    load(kFirewalldLike);
    ForwardingCheck firewalld = find(check(), "nftables inet firewalld filter_FORWARD");
    EXPECT_EQ(firewalld.verdict, CheckVerdict::kFail) << firewalld.reason;
    EXPECT_NE(firewalld.reason.find("(reject) in inet firewalld filter_FORWARD"), std::string::npos)
        << firewalld.reason;
    EXPECT_NE(firewalld.action.find("firewall-cmd"), std::string::npos);

    load(kFirewalldForwardingZone);
    firewalld = find(check(), "nftables inet firewalld filter_FORWARD");
    EXPECT_EQ(firewalld.verdict, CheckVerdict::kOk) << firewalld.reason;
    // With IPv6, the reject of special IPv6 prefixes may hit relay traffic: a warning.
    firewalld = find(check(true), "nftables inet firewalld filter_FORWARD");
    EXPECT_EQ(firewalld.verdict, CheckVerdict::kWarn) << firewalld.reason;
}

TEST_F(ForwardingPath, UfwLikeDefaultDropFailsAndRouteAllowPasses) {
    load(kUfwLike);
    ForwardingCheck ufw = find(check(), "nftables ip filter FORWARD");
    EXPECT_EQ(ufw.verdict, CheckVerdict::kFail) << ufw.reason;
    EXPECT_NE(ufw.action.find("ufw route allow in on wg0 out on wg0"), std::string::npos)
        << ufw.action;

    // What `ufw route allow in on wg0 out on wg0` adds.
    load("add rule ip filter ufw-user-forward iifname \"wg0\" oifname \"wg0\" counter accept\n");
    ufw = find(check(), "nftables ip filter FORWARD");
    EXPECT_EQ(ufw.verdict, CheckVerdict::kOk) << ufw.reason;
}

TEST_F(ForwardingPath, ADistroFilterThatMayDropWarns) {
    load(R"(
table inet filter {
    chain forward {
        type filter hook forward priority filter; policy drop;
        ip saddr 10.0.0.0/8 accept
    }
}
)");
    const ForwardingCheck distro = find(check(), "nftables inet filter forward");
    EXPECT_EQ(distro.verdict, CheckVerdict::kWarn) << distro.reason;
    EXPECT_NE(distro.action.find("iifname \"wg0\" oifname \"wg0\" accept"), std::string::npos)
        << distro.action;
}

}  // namespace
}  // namespace wgmesh::netlink
