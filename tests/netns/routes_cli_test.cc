// `wgmesh routes` as an operator runs it, inside a private namespace, with the kernel's
// routes read back through `ip -j -N route show table all`.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"

namespace wgmesh {
namespace {

using test::TestNamespace;

std::multiset<std::string> all_routes(const TestNamespace& ns) {
    const auto routes =
        nlohmann::json::parse(ns.exec_checked({"ip", "-j", "-N", "route", "show", "table", "all"}));
    std::multiset<std::string> out;
    for (const auto& r : routes) {
        out.insert(r.dump());
    }
    return out;
}

std::set<std::string> owned(const TestNamespace& ns) {
    const auto routes = nlohmann::json::parse(
        ns.exec_checked({"ip", "-j", "-N", "route", "show", "table", "all", "proto", "150"}));
    std::set<std::string> out;
    for (const auto& r : routes) {
        if (r.value("dev", "") == "c0" && !r.contains("table")) {
            out.insert(r["dst"].get<std::string>() + " " + r["gateway"].get<std::string>());
        }
    }
    return out;
}

class RoutesCliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        WGMESH_REQUIRE_NETNS();
        ns_ = std::make_unique<TestNamespace>("rcli");
        ns_->exec_checked({"ip", "link", "add", "c0", "type", "veth", "peer", "name", "c0p"});
        ns_->exec_checked({"ip", "link", "set", "c0", "up"});
        ns_->exec_checked({"ip", "link", "set", "c0p", "up"});
        ns_->exec_checked({"ip", "addr", "add", "10.42.0.1/16", "dev", "c0"});
        ns_->exec_checked({"ip", "-6", "addr", "add", "fd42::1/64", "dev", "c0", "nodad"});
        ns_->exec_checked(
            {"ip", "route", "add", "10.7.0.0/16", "via", "10.42.0.5", "proto", "static"});
        ns_->exec_checked({"ip", "route", "add", "10.8.0.0/16", "via", "10.42.0.5", "proto", "150",
                           "table", "7"});
        // The kernel adds each link-local address's local route only once its duplicate
        // address detection ends (a second or more under QEMU's TCG): a snapshot taken before
        // that would differ from one taken after for no fault of ours.
        ASSERT_TRUE(test::eventually(
            [this] {
                for (const char* dev : {"c0", "c0p"}) {
                    if (ns_->exec_checked({"ip", "-6", "-o", "addr", "show", "dev", dev, "scope",
                                           "link", "-tentative"})
                            .empty()) {
                        return false;
                    }
                }
                return true;
            },
            std::chrono::seconds(30)));
        file_ = "/tmp/wgmesh-routes-cli-" + std::to_string(getpid()) + ".txt";
    }
    void TearDown() override { std::remove(file_.c_str()); }

    test::CommandResult wgmesh(std::vector<std::string> args) {
        args.insert(args.begin(), WGMESH_BINARY);
        return ns_->exec(args);
    }
    void write(const std::string& text) { std::ofstream(file_) << text; }

    std::unique_ptr<TestNamespace> ns_;
    std::string file_;
};

TEST_F(RoutesCliTest, SyncShowFlush) {
    const auto foreign = all_routes(*ns_);
    write("# wanted\n10.1.0.0/16 10.42.0.2\n\nfd01::/64 fd42::2  # v6\n10.2.0.0/24 10.42.0.3\n");
    auto result = wgmesh({"routes", "sync", "--interface", "c0", "--from", file_});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("added 3"), std::string::npos) << result.out;
    EXPECT_EQ(owned(*ns_), (std::set<std::string>{"10.1.0.0/16 10.42.0.2", "10.2.0.0/24 10.42.0.3",
                                                  "fd01::/64 fd42::2"}));

    result = wgmesh({"routes", "show", "--interface", "c0", "--json"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(nlohmann::json::parse(result.out),
              nlohmann::json::parse(R"([{"destination":"10.1.0.0/16","gateway":"10.42.0.2"},
                                        {"destination":"10.2.0.0/24","gateway":"10.42.0.3"},
                                        {"destination":"fd01::/64","gateway":"fd42::2"}])"));

    // Same file again: nothing changes.
    result = wgmesh({"routes", "sync", "--interface", "c0", "--from", file_});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_NE(result.out.find("added 0, removed 0, failed 0"), std::string::npos) << result.out;

    write("10.1.0.0/16 10.42.0.9\n");
    result = wgmesh({"routes", "sync", "--interface", "c0", "--from", file_});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(owned(*ns_), std::set<std::string>{"10.1.0.0/16 10.42.0.9"});

    result = wgmesh({"routes", "flush", "--interface", "c0"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(owned(*ns_).empty());
    EXPECT_EQ(all_routes(*ns_), foreign);  // static route and table 7 route untouched
}

TEST_F(RoutesCliTest, BadFileNamesTheLineAndChangesNothing) {
    write("10.1.0.0/16 10.42.0.2\n");
    ASSERT_EQ(wgmesh({"routes", "sync", "--interface", "c0", "--from", file_}).exit_code, 0);
    const auto before = all_routes(*ns_);
    write("10.3.0.0/16 10.42.0.2\n# ok\n10.4.0.0/16 nonsense\n");
    const auto result = wgmesh({"routes", "sync", "--interface", "c0", "--from", file_});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find(file_ + ":3:"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("nothing applied"), std::string::npos) << result.err;
    EXPECT_EQ(all_routes(*ns_), before);
}

TEST_F(RoutesCliTest, FailedRouteExitsOneAndTheOthersLand) {
    write("10.1.0.0/16 10.42.0.2\n10.3.0.0/16 192.0.2.1\n");
    const auto result = wgmesh({"routes", "sync", "--interface", "c0", "--from", file_, "--json"});
    EXPECT_EQ(result.exit_code, 1);
    const auto report = nlohmann::json::parse(result.out);
    EXPECT_EQ(report["added"], 1);
    ASSERT_EQ(report["failures"].size(), 1u);
    EXPECT_EQ(report["failures"][0]["destination"], "10.3.0.0/16");
    EXPECT_EQ(report["failures"][0]["gateway"], "192.0.2.1");
    EXPECT_EQ(owned(*ns_), std::set<std::string>{"10.1.0.0/16 10.42.0.2"});
}

TEST_F(RoutesCliTest, UsageErrors) {
    EXPECT_EQ(wgmesh({"routes", "--help"}).exit_code, 0);
    EXPECT_NE(wgmesh({"routes", "--help"}).out.find("show|sync|flush"), std::string::npos);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"routes", "show"},
          {"routes", "sync", "--interface", "c0"},
          {"routes", "bogus", "--interface", "c0"},
          {"routes", "show", "--interface", "c0", "--protocol", "2"},
          {"routes", "show", "--interface", "c0", "--table", "0"},
          {"routes", "show", "--interface", "c0", "--table", "x"},
          {"routes", "flush", "--interface", "c0", "--from", "/dev/null"},
          {"routes", "show", "--interface", "nope0"},
          {"routes", "sync", "--interface", "c0", "--from", "/nonexistent/file"}}) {
        const auto result = wgmesh(args);
        EXPECT_EQ(result.exit_code, 1) << args[1] << " " << result.out;
        EXPECT_FALSE(result.err.empty());
    }
}

}  // namespace
}  // namespace wgmesh
