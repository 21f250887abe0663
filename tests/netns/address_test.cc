// Address helpers and KernelAddressSet in a private namespace, read back with `ip -j addr`
// and `ip -j route`.
#include "netlink/address.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "netlink/link.h"
#include "tests/support/netns.h"

namespace wgmesh::netlink {
namespace {

// "address/prefix" of every global address on `dev`.
std::set<std::string> kernel_addresses(const test::TestNamespace& ns, const std::string& dev) {
    const auto links =
        nlohmann::json::parse(ns.exec_checked({"ip", "-j", "addr", "show", "dev", dev}));
    std::set<std::string> out;
    for (const auto& info : links.at(0)["addr_info"]) {
        if (info["scope"] != "link") {
            out.insert(info["local"].get<std::string>() + "/" +
                       std::to_string(info["prefixlen"].get<int>()));
        }
    }
    return out;
}

std::set<std::string> to_strings(const std::vector<InterfaceAddress>& addresses) {
    std::set<std::string> out;
    for (const auto& address : addresses) {
        out.insert(address.to_string());
    }
    return out;
}

InterfaceAddress address(const char* text) {
    return *InterfaceAddress::parse(text);
}

class AddressTest : public ::testing::Test {
  protected:
    void SetUp() override {
        WGMESH_REQUIRE_NETNS();
        ns_ = std::make_unique<test::TestNamespace>("addr");
        ns_->exec_checked({"ip", "link", "add", "m0", "type", "veth", "peer", "name", "m0p"});
        ns_->exec_checked({"ip", "link", "set", "m0", "up"});
        ns_->exec_checked({"ip", "link", "set", "m0p", "up"});
        ns_->exec_checked({"ip", "link", "add", "n0", "type", "veth", "peer", "name", "n0p"});
        ns_->exec_checked({"ip", "addr", "add", "192.0.2.1/24", "dev", "n0"});  // not ours
    }
    std::unique_ptr<test::TestNamespace> ns_;
};

TEST_F(AddressTest, AddListDeleteIpv4AndIpv6) {
    auto scope = ns_->enter();
    NetlinkSocket socket;
    const int index = link_index(socket, "m0");
    EXPECT_TRUE(list_addresses(socket, index).empty());
    add_address(socket, index, address("10.42.0.7/16"));
    add_address(socket, index, address("fd42::7/64"));
    add_address(socket, index, address("10.42.0.7/16"));  // again: no error
    const std::set<std::string> expected = {"10.42.0.7/16", "fd42::7/64"};
    EXPECT_EQ(kernel_addresses(*ns_, "m0"), expected);
    EXPECT_EQ(to_strings(list_addresses(socket, index)), expected);
    // The /16 prefix route through the interface is kept: it is the mesh subnet's route.
    EXPECT_NE(ns_->exec_checked({"ip", "route", "show", "10.42.0.0/16"}).find("dev m0"),
              std::string::npos);

    add_address(socket, index, address("10.43.0.1/16"), AddressOptions{true});
    EXPECT_EQ(ns_->exec_checked({"ip", "route", "show", "10.43.0.0/16"}), "");

    EXPECT_TRUE(delete_address(socket, index, address("10.42.0.7/16")));
    EXPECT_TRUE(delete_address(socket, index, address("fd42::7/64")));
    EXPECT_FALSE(delete_address(socket, index, address("fd42::7/64")));
    EXPECT_EQ(kernel_addresses(*ns_, "m0"), std::set<std::string>{"10.43.0.1/16"});
    EXPECT_EQ(kernel_addresses(*ns_, "n0"), std::set<std::string>{"192.0.2.1/24"});
}

TEST_F(AddressTest, ReplaceInTheSameSubnetKeepsTheNewAddressAndRoutes) {
    {
        auto scope = ns_->enter();
        KernelAddressSet set("m0");
        set.replace(std::nullopt, address("10.42.0.7/16"));
    }
    ns_->exec_checked(
        {"ip", "route", "add", "10.99.0.0/16", "via", "10.42.0.2", "dev", "m0", "proto", "150"});
    {
        auto scope = ns_->enter();
        KernelAddressSet set("m0");
        set.replace(address("10.42.0.7/16"), address("10.42.0.9/16"));
        EXPECT_EQ(to_strings(set.list()), std::set<std::string>{"10.42.0.9/16"});
    }
    EXPECT_EQ(kernel_addresses(*ns_, "m0"), std::set<std::string>{"10.42.0.9/16"});
    const std::string routes = ns_->exec_checked({"ip", "route", "show"});
    EXPECT_NE(routes.find("10.99.0.0/16 via 10.42.0.2 dev m0"), std::string::npos) << routes;
    EXPECT_NE(routes.find("10.42.0.0/16 dev m0"), std::string::npos) << routes;
}

TEST_F(AddressTest, ReplaceAcrossSubnetsAndIpv6) {
    auto scope = ns_->enter();
    KernelAddressSet set("m0");
    set.replace(std::nullopt, address("fd42::1/64"));
    set.replace(address("fd42::1/64"), address("fd43::1/64"));
    set.replace(std::nullopt, address("10.42.0.7/16"));
    set.replace(address("10.42.0.7/16"), address("10.50.0.7/16"));
    set.replace(address("10.50.0.7/16"), address("10.50.0.7/16"));  // same: nothing removed
    EXPECT_EQ(kernel_addresses(*ns_, "m0"), (std::set<std::string>{"10.50.0.7/16", "fd43::1/64"}));
    EXPECT_EQ(to_strings(set.list()), (std::set<std::string>{"10.50.0.7/16", "fd43::1/64"}));
    KernelAddressSet missing("absent0");
    EXPECT_THROW(missing.list(), std::system_error);
}

}  // namespace
}  // namespace wgmesh::netlink
