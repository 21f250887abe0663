#include "netlink/iptables_legacy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace wgmesh::netlink {
namespace {

class IptablesLegacy : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("wgmesh-legacy-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    void write(const char* name, const std::string& text) { std::ofstream(dir_ / name) << text; }

    std::filesystem::path dir_;
};

TEST_F(IptablesLegacy, MissingFilesMeanNoTables) {
    EXPECT_TRUE(find_iptables_legacy_tables(dir_).empty());
    EXPECT_TRUE(find_iptables_legacy_tables(dir_ / "does-not-exist").empty());
}

TEST_F(IptablesLegacy, EmptyFilesMeanNoTables) {
    write("ip_tables_names", "");
    write("ip6_tables_names", "");
    EXPECT_TRUE(find_iptables_legacy_tables(dir_).empty());
}

TEST_F(IptablesLegacy, ListsTablesOfBothFamilies) {
    write("ip_tables_names", "filter\nnat\n");
    write("ip6_tables_names", "filter\n");
    const IptablesLegacyTables tables = find_iptables_legacy_tables(dir_);
    EXPECT_EQ(tables.ipv4, (std::vector<std::string>{"filter", "nat"}));
    EXPECT_EQ(tables.ipv6, (std::vector<std::string>{"filter"}));
    EXPECT_FALSE(tables.empty());
    EXPECT_EQ(tables.to_string(), "iptables: filter, nat; ip6tables: filter");
}

TEST_F(IptablesLegacy, IgnoresLinesThatAreNotTableNames) {
    write("ip_tables_names", "\nfil ter\n\x01\nmangle\n" + std::string(40, 'a') + "\n");
    const IptablesLegacyTables tables = find_iptables_legacy_tables(dir_);
    EXPECT_EQ(tables.ipv4, (std::vector<std::string>{"mangle"}));
    EXPECT_EQ(tables.to_string(), "iptables: mangle");
}

}  // namespace
}  // namespace wgmesh::netlink
