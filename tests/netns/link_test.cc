// Link helpers in a private namespace, read back with `ip -j link`.
#include "netlink/link.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/netns.h"

namespace wgmesh::netlink {
namespace {

nlohmann::json link_json(const test::TestNamespace& ns, const std::string& name) {
    const auto result = ns.exec({"ip", "-j", "-d", "link", "show", "dev", name});
    if (result.exit_code != 0) {
        return nullptr;
    }
    return nlohmann::json::parse(result.out).at(0);
}

TEST(Link, VethLifecycleReadsBackFromTheKernel) {
    WGMESH_REQUIRE_NETNS();
    test::TestNamespace ns("link");
    auto scope = ns.enter();
    NetlinkSocket socket;
    EXPECT_FALSE(link_exists(socket, "v0"));
    create_veth_pair(socket, "v0", "v0peer");
    ASSERT_FALSE(link_json(ns, "v0").is_null());
    EXPECT_EQ(link_json(ns, "v0")["linkinfo"]["info_kind"], "veth");
    EXPECT_FALSE(link_json(ns, "v0peer").is_null());

    const auto info = find_link(socket, "v0");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->index, link_json(ns, "v0")["ifindex"].get<int>());
    EXPECT_EQ(link_index(socket, "v0"), info->index);
    EXPECT_EQ(info->kind, "veth");
    EXPECT_FALSE(info->up);

    set_link_up(socket, "v0", true);
    const auto flags = link_json(ns, "v0")["flags"];
    EXPECT_NE(std::find(flags.begin(), flags.end(), "UP"), flags.end());
    EXPECT_TRUE(find_link(socket, "v0")->up);
    set_link_up(socket, "v0", false);
    const auto down = link_json(ns, "v0")["flags"];
    EXPECT_EQ(std::find(down.begin(), down.end(), "UP"), down.end());

    set_link_mtu(socket, "v0", 1380);
    EXPECT_EQ(link_json(ns, "v0")["mtu"], 1380);
    EXPECT_EQ(find_link(socket, "v0")->mtu, 1380u);

    EXPECT_TRUE(delete_link(socket, "v0"));
    EXPECT_TRUE(link_json(ns, "v0").is_null());
    EXPECT_TRUE(link_json(ns, "v0peer").is_null());  // a veth goes with its peer
    EXPECT_FALSE(delete_link(socket, "v0"));
    EXPECT_FALSE(find_link(socket, "v0"));
}

TEST(Link, ErrorsCarryTheNameAndTheKernelText) {
    WGMESH_REQUIRE_NETNS();
    test::TestNamespace ns("linkerr");
    auto scope = ns.enter();
    NetlinkSocket socket;
    try {
        link_index(socket, "absent0");
        FAIL();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENODEV);
        EXPECT_NE(std::string(e.what()).find("absent0"), std::string::npos);
    }
    create_veth_pair(socket, "v1", "v1peer");
    try {
        create_veth_pair(socket, "v1", "v1other");
        FAIL();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EEXIST);
        EXPECT_NE(std::string(e.what()).find("v1"), std::string::npos);
    }
    try {
        create_link(socket, "x0", "no-such-kind");
        FAIL();
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("no-such-kind"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(link_json(ns, "x0").is_null());
    EXPECT_THROW(set_link_mtu(socket, "v1", 10), std::system_error);  // below the minimum
    EXPECT_THROW(find_link(socket, "bad/name"), std::invalid_argument);
    EXPECT_THROW(find_link(socket, ""), std::invalid_argument);
    EXPECT_THROW(find_link(socket, "much-too-long-name0"), std::invalid_argument);
}

}  // namespace
}  // namespace wgmesh::netlink
