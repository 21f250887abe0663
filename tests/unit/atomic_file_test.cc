// netlink/atomic_file: the one writer behind the node key, nonce, peer cache, interface state
// and the installer's files.
#include "netlink/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>

namespace fs = std::filesystem;
using wgmesh::netlink::AtomicWriteOptions;
using wgmesh::netlink::write_file_atomically;

namespace {

class AtomicFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/wgmesh-atomic-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    static std::string read(const fs::path& p) {
        std::ifstream in(p);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    static mode_t mode_of(const fs::path& p) {
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
        return st.st_mode & 07777;
    }
    std::size_t entries() const {
        return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir_), {}));
    }

    fs::path dir_;
};

TEST_F(AtomicFileTest, ReplacesWithTheExactModeWhateverTheUmaskAndLeavesNoTempFile) {
    const auto path = dir_ / "f";
    const mode_t old_umask = ::umask(0077);
    EXPECT_TRUE(write_file_atomically(path, "one\n", {.mode = 0644}));
    ::umask(0);
    EXPECT_TRUE(write_file_atomically(path, "two\n"));
    ::umask(old_umask);
    EXPECT_EQ(read(path), "two\n");
    EXPECT_EQ(mode_of(path), 0600u);
    EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFileTest, KeepExistingLinksOnlyWhenThePathIsFree) {
    const auto path = dir_ / "key";
    EXPECT_TRUE(write_file_atomically(path, "first\n", {.replace_existing = false}));
    EXPECT_FALSE(write_file_atomically(path, "second\n", {.replace_existing = false}));
    EXPECT_EQ(read(path), "first\n");
    EXPECT_EQ(mode_of(path), 0600u);
    EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFileTest, FixedTempNameReplacesALeftoverAndHookFailureKeepsTheOldFile) {
    const auto path = dir_ / "cache.json";
    const auto temp = dir_ / "cache.json.tmp";
    std::ofstream(temp) << "leftover of a crash";
    EXPECT_TRUE(write_file_atomically(path, "old\n", {.temp_path = temp}));
    EXPECT_FALSE(fs::exists(temp));
    fs::path seen;
    const AtomicWriteOptions failing{.temp_path = temp, .before_rename = [&](const fs::path& t) {
                                         seen = t;
                                         EXPECT_EQ(read(t), "new\n");
                                         throw std::runtime_error("power cut");
                                     }};
    EXPECT_THROW(write_file_atomically(path, "new\n", failing), std::runtime_error);
    EXPECT_EQ(seen, temp);
    EXPECT_EQ(read(path), "old\n");
    EXPECT_FALSE(fs::exists(temp));
}

TEST_F(AtomicFileTest, LeftoverTempFilesOfACrashedWriterAreRemovedAndNothingElse) {
    const auto path = dir_ / "wg0-peers.json";
    std::ofstream(path) << "current\n";
    for (const char* name : {".wg0-peers.json.a1B2c3", ".wg0-peers.json.ZZZZZZ"}) {
        std::ofstream(dir_ / name) << "torn";
    }
    // Not ours: another file's temp, a longer suffix, a directory and a symlink.
    for (const char* name :
         {".wg0.key.a1B2c3", ".wg0-peers.json.a1B2c3d", ".wg0-peers.jsonXa1B2c3"}) {
        std::ofstream(dir_ / name) << "keep";
    }
    fs::create_directory(dir_ / ".wg0-peers.json.dir123");
    fs::create_symlink(path, dir_ / ".wg0-peers.json.link12");

    EXPECT_EQ(wgmesh::netlink::remove_leftover_temp_files(path), 2u);
    EXPECT_FALSE(fs::exists(dir_ / ".wg0-peers.json.a1B2c3"));
    EXPECT_FALSE(fs::exists(dir_ / ".wg0-peers.json.ZZZZZZ"));
    EXPECT_EQ(read(path), "current\n");
    EXPECT_EQ(entries(), 6u);
    EXPECT_EQ(wgmesh::netlink::remove_leftover_temp_files(dir_ / "missing" / "f"), 0u);
}

TEST_F(AtomicFileTest, ErrorsNameThePath) {
    const auto path = dir_ / "missing-dir" / "f";
    try {
        write_file_atomically(path, "x");
        FAIL() << "expected an error";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
}

TEST_F(AtomicFileTest, PrivateDirectoriesAre0700AndAFileInTheWayIsAnError) {
    const mode_t old_umask = ::umask(0);
    wgmesh::netlink::make_private_directories(dir_ / "a" / "b");
    ::umask(old_umask);
    EXPECT_EQ(mode_of(dir_ / "a"), 0700u);
    EXPECT_EQ(mode_of(dir_ / "a" / "b"), 0700u);
    std::ofstream(dir_ / "file") << "x";
    EXPECT_THROW(wgmesh::netlink::make_private_directories(dir_ / "file"), std::system_error);
}

}  // namespace
