// The daemon's small parts that need no privileges: node key file, interface state file,
// --reconcile-interval.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "mesh/node_key.h"
#include "tools/wgmesh/daemon/interface_state.h"
#include "tools/wgmesh/daemon/plumbing.h"

namespace wgmesh {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
  public:
    TempDir()
        : path_(fs::temp_directory_path() / ("wgmesh-daemon-support-" + std::to_string(::getpid()) +
                                             "-" + std::to_string(counter_++))) {}
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

  private:
    static inline int counter_ = 0;
    fs::path path_;
};

std::string read(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(NodeKey, CreatedOnceWith0600InA0700DirectoryAndLoadedAfterwards) {
    TempDir dir;
    const auto path = mesh::node_key_path(dir.path() / "state", "wg0");
    const auto created = mesh::load_or_create_node_key(path);
    EXPECT_TRUE(created.created);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(path.parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    const auto text = read(path);
    EXPECT_EQ(text.size(), 45u);  // 44 base64 characters and a newline, like `wg genkey`
    EXPECT_EQ(wg::Key::parse(text.substr(0, 44)), created.private_key);

    const auto loaded = mesh::load_or_create_node_key(path);
    EXPECT_FALSE(loaded.created);
    EXPECT_EQ(loaded.private_key, created.private_key);
    EXPECT_FALSE(loaded.too_open);
}

TEST(NodeKey, InvalidFilesAreRefusedNotReplaced) {
    TempDir dir;
    fs::create_directories(dir.path());
    const auto path = dir.path() / "wg0.key";
    for (const std::string& bad : std::vector<std::string>{
             "", "not a key\n", std::string(44, 'A') + "\n", std::string(5000, 'x'),
             "CGlHBOvWIl6h6U3TM30oHeUhFxbn6wGNW/kSV9dJ700=\nsecond line\n"}) {
        std::ofstream(path, std::ios::trunc) << bad;
        EXPECT_THROW(mesh::load_or_create_node_key(path), std::runtime_error) << bad.substr(0, 20);
        EXPECT_EQ(read(path), bad);
    }
    fs::remove(path);
    fs::create_directory(path);
    EXPECT_THROW(mesh::load_or_create_node_key(path), std::runtime_error);
}

TEST(NodeKey, WarnsAboutAGroupReadableKey) {
    TempDir dir;
    fs::create_directories(dir.path());
    const auto path = dir.path() / "wg0.key";
    std::ofstream(path) << wg::Key::generate_private().to_base64() << "\n";
    ::chmod(path.c_str(), 0644);
    EXPECT_TRUE(mesh::load_or_create_node_key(path).too_open);
}

TEST(InterfaceState, RoundTripsAndRejectsGarbage) {
    TempDir dir;
    const auto path = cli::interface_state_path(dir.path(), "wg0");
    EXPECT_FALSE(cli::read_interface_state(path));
    cli::InterfaceState state;
    state.created = true;
    state.backend = "userspace";
    state.addresses = {*netlink::InterfaceAddress::parse("10.1.2.3/16"),
                       *netlink::InterfaceAddress::parse("fd00::1/64")};
    cli::write_interface_state(path, state);
    EXPECT_EQ(cli::read_interface_state(path), state);
    for (const char* bad : {"", "[]", "{\"created\": 1}", "{\"created\": true, \"addresses\": [5]}",
                            "{\"created\": true, \"backend\": \"bsd\"}"}) {
        std::ofstream(path, std::ios::trunc) << bad;
        EXPECT_THROW(cli::read_interface_state(path), std::runtime_error) << bad;
    }
    EXPECT_THROW(cli::interface_state_path(dir.path(), "../etc"), std::invalid_argument);
}

TEST(ReconcileInterval, AcceptsSecondsAndMillisecondsWithinBounds) {
    EXPECT_EQ(cli::parse_interval("reconcile-interval", "5s"), 5s);
    EXPECT_EQ(cli::parse_interval("reconcile-interval", "7"), 7s);
    EXPECT_EQ(cli::parse_interval("reconcile-interval", "500ms"), 500ms);
    for (const char* bad :
         {"", "s", "ms", "-1s", "0", "10ms", "2h", "99999999999999999999", "1.5s", "5 s", "5m"}) {
        EXPECT_THROW(cli::parse_interval("reconcile-interval", bad), cli::UsageError) << bad;
    }
}

}  // namespace
}  // namespace wgmesh
