#include "netlink/interface_name.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace wgmesh::netlink {
namespace {

TEST(InterfaceName, AcceptsKernelStyleNames) {
    for (const char* good : {"wg0", "mesh0", "wg-mesh.1", "A_b", "x", "123456789012345"}) {
        EXPECT_TRUE(is_valid_interface_name(good)) << good;
        EXPECT_NO_THROW(require_valid_interface_name(good)) << good;
    }
}

TEST(InterfaceName, RejectsWhatTheKernelRefusesOrCouldBreakOutOfAFileUnitOrRule) {
    for (const char* bad :
         {"", "1234567890123456", ".", "..", "wg/0", "wg 0", "wg\t0", "wg:0", "wg\"0", "wg'0",
          "wg;0", "wg}0", "wg\n0", "wg@0", "wg*", "wg%i", "wg$x", "wg\\0", "wg`x`"}) {
        EXPECT_FALSE(is_valid_interface_name(bad)) << bad;
        EXPECT_THROW(require_valid_interface_name(bad), std::invalid_argument) << bad;
    }
    EXPECT_FALSE(is_valid_interface_name(std::string("wg\0x", 4)));
    EXPECT_FALSE(is_valid_interface_name("w\xc3\xa4"));
}

TEST(InterfaceName, MessageNamesTheNameAndTheProblem) {
    try {
        require_valid_interface_name("wg;0");
        FAIL() << "accepted";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("'wg;0'"), std::string::npos) << message;
        EXPECT_NE(message.find("only letters, digits"), std::string::npos) << message;
    }
    EXPECT_NE(interface_name_problem("1234567890123456")->find("16 bytes"), std::string::npos);
}

}  // namespace
}  // namespace wgmesh::netlink
