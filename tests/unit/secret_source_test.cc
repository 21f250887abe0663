// Where join, derive and service install read the mesh secret from: one reader for the
// flags, the environment, a file and standard input, and one parser behind it.
#include "tools/wgmesh/secret_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/mesh_node.h"

namespace wgmesh::cli {
namespace {

namespace fs = std::filesystem;

const std::string kSecret = "mesh-secret-0123456789";

class SecretSource : public ::testing::Test {
  protected:
    ~SecretSource() override { ::unsetenv("WGMESH_SECRET"); }

    static Flags flags(const std::vector<std::string>& args) {
        static const std::vector<FlagSpec> specs = {{"secret", "S", ""}, {"secret-file", "F", ""}};
        return Flags(args, specs);
    }
    std::string take(const std::vector<std::string>& args, SecretSources sources = {}) {
        return take_secret(flags(args), sources,
                           [this](const std::string& text) { warnings_.push_back(text); });
    }
    fs::path write_file(const std::string& content) {
        const auto path = dir_.path() / ("secret-" + std::to_string(files_++));
        std::ofstream(path, std::ios::binary) << content;
        return path;
    }

    test::TempDir dir_;
    std::vector<std::string> warnings_;
    int files_ = 0;
};

TEST_F(SecretSource, EnvironmentIsReadAndScrubbed) {
    ::setenv("WGMESH_SECRET", kSecret.c_str(), 1);
    EXPECT_EQ(take({}), kSecret);
    EXPECT_EQ(::getenv("WGMESH_SECRET"), nullptr);
    EXPECT_TRUE(warnings_.empty());
}

TEST_F(SecretSource, FileWinsAndTheEnvironmentIsScrubbedAnyway) {
    const auto file = write_file("from-the-file-0123456789\n");
    ::setenv("WGMESH_SECRET", "from-the-environment-1234", 1);
    EXPECT_EQ(take({"--secret-file", file.string()}), "from-the-file-0123456789");
    EXPECT_EQ(::getenv("WGMESH_SECRET"), nullptr);
}

TEST_F(SecretSource, MissingOrAmbiguousSecretsAreUsageErrors) {
    EXPECT_THROW(take({}), UsageError);
    EXPECT_THROW(take({"--secret", "a", "--secret-file", "/x"}), UsageError);
    EXPECT_THROW(take({"--secret-file", (dir_.path() / "missing").string()}), std::system_error);
}

TEST_F(SecretSource, InlineSecretIsAcceptedWithAWarning) {
    EXPECT_EQ(take({"--secret", "inline-secret-0123456"}), "inline-secret-0123456");
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_NE(warnings_[0].find("process list"), std::string::npos) << warnings_[0];
}

// Every source goes through the one parser: a pasted secret gives the Go daemon's mesh.
TEST_F(SecretSource, EverySourceParsesUrisAndUnicodeSpacesAlike) {
    const std::string pasted = "\u00a0wgmesh://v1/" + kSecret + "?x=1\u00a0\n";
    EXPECT_EQ(take({"--secret-file", write_file(pasted).string()}), kSecret);
    ::setenv("WGMESH_SECRET", pasted.c_str(), 1);
    EXPECT_EQ(take({}), kSecret);
    EXPECT_EQ(take({"--secret", pasted}), kSecret);
}

TEST_F(SecretSource, RemovedUnicodeSpacesAreReportedOnceWithoutTheSecret) {
    ::setenv("WGMESH_SECRET", ("\u3000" + kSecret + "\u3000").c_str(), 1);
    EXPECT_EQ(take({}), kSecret);
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_NE(warnings_[0].find("Unicode spaces"), std::string::npos) << warnings_[0];
    EXPECT_NE(warnings_[0].find("$WGMESH_SECRET"), std::string::npos) << warnings_[0];
    EXPECT_EQ(warnings_[0].find(kSecret), std::string::npos) << "the warning shows the secret";

    warnings_.clear();
    EXPECT_EQ(take({"--secret-file", write_file(" " + kSecret + "\r\n").string()}), kSecret);
    EXPECT_TRUE(warnings_.empty()) << "ASCII whitespace is not worth a warning";
}

TEST_F(SecretSource, ShortSecretsNameTheirSource) {
    const auto file = write_file("wgmesh://v1/short\n");
    try {
        take({"--secret-file", file.string()});
        FAIL() << "a short secret was accepted";
    } catch (const UsageError& e) {
        EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("at least 16 bytes"), std::string::npos) << e.what();
    }
}

TEST_F(SecretSource, OversizedFileIsRefused) {
    const auto file = write_file(std::string(64 * 1024 + 1, 'x'));
    EXPECT_THROW(take({"--secret-file", file.string()}), UsageError);
}

// `wgmesh service install < file`: standard input, only where the command allows it.
TEST_F(SecretSource, StandardInputOnlyWhereAllowed) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::string pasted = "\u00a0" + kSecret + "\n";
    ASSERT_EQ(::write(fds[1], pasted.data(), pasted.size()), static_cast<ssize_t>(pasted.size()));
    ::close(fds[1]);
    const int saved = ::dup(STDIN_FILENO);
    ASSERT_GE(saved, 0);
    ASSERT_GE(::dup2(fds[0], STDIN_FILENO), 0);
    ::close(fds[0]);
    std::string from_stdin;
    bool refused = false;
    try {
        take({});
    } catch (const UsageError&) {
        refused = true;
    }
    try {
        from_stdin = take({}, {.standard_input = true});
    } catch (...) {
    }
    ::dup2(saved, STDIN_FILENO);
    ::close(saved);
    EXPECT_TRUE(refused) << "standard input was read by a command that does not allow it";
    EXPECT_EQ(from_stdin, kSecret);
}

}  // namespace
}  // namespace wgmesh::cli
