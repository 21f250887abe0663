// The sysctl helpers against a fake /proc/sys tree in a temporary directory.
#include "netlink/sysctl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <system_error>

namespace wgmesh::netlink {
namespace {

class SysctlTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/wgmesh-sysctl-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        root_ = pattern;
        std::filesystem::create_directories(root_ / "net/ipv4");
    }
    void TearDown() override { std::filesystem::remove_all(root_); }
    void put(const char* key, const char* text) { std::ofstream(root_ / key) << text; }
    std::string content(const char* key) {
        std::ifstream in(root_ / key);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

    std::filesystem::path root_;
};

TEST_F(SysctlTest, TurnsForwardingOnOnlyWhenOff) {
    put("net/ipv4/ip_forward", "0\n");
    EXPECT_TRUE(ensure_ipv4_forwarding(root_));
    EXPECT_EQ(content("net/ipv4/ip_forward"), "1\n");
    // Already on: no write at all, which an unchanged modification time proves.
    const auto written = std::filesystem::last_write_time(root_ / "net/ipv4/ip_forward");
    usleep(20000);
    EXPECT_FALSE(ensure_ipv4_forwarding(root_));
    EXPECT_EQ(std::filesystem::last_write_time(root_ / "net/ipv4/ip_forward"), written);
    EXPECT_EQ(content("net/ipv4/ip_forward"), "1\n");
}

TEST_F(SysctlTest, ReadTrimsAndWriteAppendsNewline) {
    put("net/ipv4/ip_forward", "  1 \n");
    EXPECT_EQ(read_sysctl("net/ipv4/ip_forward", root_), "1");
    write_sysctl("net/ipv4/ip_forward", "0", root_);
    EXPECT_EQ(content("net/ipv4/ip_forward"), "0\n");
}

TEST_F(SysctlTest, ErrorsNameTheFile) {
    try {
        read_sysctl("net/ipv4/missing", root_);
        FAIL();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
        EXPECT_NE(std::string(e.what()).find("net/ipv4/missing"), std::string::npos);
    }
    EXPECT_THROW(write_sysctl("net/ipv4/missing", "1", root_), std::system_error);
    EXPECT_THROW(read_sysctl("../etc/passwd", root_), std::invalid_argument);
    EXPECT_THROW(read_sysctl("/etc/passwd", root_), std::invalid_argument);
    EXPECT_THROW(write_sysctl("net/ipv4/ip_forward", "1\n0", root_), std::invalid_argument);
}

}  // namespace
}  // namespace wgmesh::netlink
