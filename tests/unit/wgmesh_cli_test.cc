// The wgmesh binary's top level: --version, --help and unknown commands.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tests/support/process.h"

namespace wgmesh {
namespace {

using test::run_command;

TEST(WgmeshCli, VersionIsOneLineOnStdout) {
    const auto result = run_command({WGMESH_BINARY, "--version"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    // "wgmesh X.Y.Z\n": three dot-separated numbers.
    const std::string prefix = "wgmesh ";
    ASSERT_TRUE(result.out.starts_with(prefix) && result.out.ends_with("\n")) << result.out;
    const std::string version =
        result.out.substr(prefix.size(), result.out.size() - prefix.size() - 1);
    EXPECT_EQ(std::count(version.begin(), version.end(), '.'), 2) << version;
    EXPECT_EQ(version.find_first_not_of("0123456789."), std::string::npos) << version;
    EXPECT_NE(version.front(), '.');
    EXPECT_NE(version.back(), '.');
    EXPECT_EQ(version.find(".."), std::string::npos) << version;
    EXPECT_EQ(result.err, "");
}

TEST(WgmeshCli, HelpNamesVersionAndEveryCommandAndEndsWithANewline) {
    const auto result = run_command({WGMESH_BINARY, "--help"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_NE(result.out.find("wgmesh --version"), std::string::npos) << result.out;
    for (const char* command : {"join", "derive", "status", "cache", "routes", "service"}) {
        EXPECT_NE(result.out.find(std::string("\n  ") + command + " "), std::string::npos)
            << command;
    }
    ASSERT_FALSE(result.out.empty());
    EXPECT_EQ(result.out.back(), '\n');
}

// Every command's --help text ends with a newline, so the shell prompt starts on its own line.
TEST(WgmeshCli, EveryHelpTextEndsWithANewline) {
    const std::vector<std::vector<std::string>> helps = {{"join", "--help"},
                                                         {"derive", "--help"},
                                                         {"status", "--help"},
                                                         {"peers", "--help"},
                                                         {"peer", "--help"},
                                                         {"cache", "--help"},
                                                         {"routes", "--help"},
                                                         {"cleanup", "--help"},
                                                         {"service", "--help"},
                                                         {"service", "unit", "--help"},
                                                         {"service", "install", "--help"},
                                                         {"service", "uninstall", "--help"},
                                                         {"service", "status", "--help"}};
    for (const auto& args : helps) {
        std::vector<std::string> argv = {WGMESH_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto result = run_command(argv);
        const std::string name = args.size() > 2 ? args[0] + " " + args[1] : args[0];
        EXPECT_EQ(result.exit_code, 0) << name << ": " << result.err;
        ASSERT_FALSE(result.out.empty()) << name;
        EXPECT_EQ(result.out.back(), '\n') << name;
        EXPECT_NE(result.out.substr(result.out.size() - 2), "\n\n")
            << name << " ends with a blank line";
    }
}

// The daemon's timing and monitor flags are checked before anything is touched, and an error
// names the flag that was wrong.
TEST(WgmeshCli, JoinRefusesBadResyncAndMonitorFlagsNamingThem) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--resync-interval", "10ms"}, "--resync-interval"},
        {{"--resync-interval", "2h"}, "--resync-interval"},
        {{"--reconcile-interval", "x"}, "--reconcile-interval"},
        {{"--kernel-monitor-buffer", "100"}, "kernel-monitor-buffer"},
        {{"--kernel-monitor-buffer", "-1"}, "kernel-monitor-buffer"},
    };
    for (const auto& [flags, named] : cases) {
        std::vector<std::string> argv = {WGMESH_BINARY, "join", "--interface", "wgcli0"};
        argv.insert(argv.end(), flags.begin(), flags.end());
        const auto result = run_command(argv);
        EXPECT_EQ(result.exit_code, 1) << flags[1];
        EXPECT_NE(result.err.find(named), std::string::npos) << result.err;
    }
}

TEST(WgmeshCli, UnknownCommandFailsWithTheUsage) {
    const auto result = run_command({WGMESH_BINARY, "frobnicate"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("unknown command 'frobnicate'"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace wgmesh
