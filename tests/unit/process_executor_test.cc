// The real executor with real processes.
#include "service/process_executor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace wgmesh::service {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

CommandOutcome run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 10s) {
    ProcessExecutor executor;
    return executor.run(argv, timeout);
}

TEST(ProcessExecutor, ReportsExitCodesAndSignals) {
    EXPECT_EQ(run({"true"}).exit_code, 0);
    EXPECT_EQ(run({"false"}).exit_code, 1);
    EXPECT_EQ(run({"/bin/sh", "-c", "exit 42"}).exit_code, 42);
    const auto killed = run({"/bin/sh", "-c", "kill -KILL $$"});
    EXPECT_EQ(killed.exit_code, 128 + 9);
    EXPECT_FALSE(killed.timed_out);
}

TEST(ProcessExecutor, CapturesStdoutAndStderrSeparately) {
    const auto outcome = run({"/bin/sh", "-c", "echo out; echo err >&2; echo more"});
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_EQ(outcome.out, "out\nmore\n");
    EXPECT_EQ(outcome.err, "err\n");
}

TEST(ProcessExecutor, DrainsBothPipesWithoutDeadlock) {
    const auto outcome =
        run({"/bin/sh", "-c", "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2; echo done"});
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_EQ(outcome.out.size(), 300000u + 5u);
    EXPECT_EQ(outcome.err.size(), 200000u);
}

TEST(ProcessExecutor, CapsCapturedOutput) {
    const auto outcome = run({"head", "-c", "3000000", "/dev/zero"});
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_EQ(outcome.out.size(), ProcessExecutor::kMaxCapturedBytes);
}

TEST(ProcessExecutor, ArgumentsArePassedLiterallyWithoutAShell) {
    const auto outcome = run({"printf", "%s\\n", "a;b", "$(id -u)", "*", "x > y", "`id`"});
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_EQ(outcome.out, "a;b\n$(id -u)\n*\nx > y\n`id`\n");
}

TEST(ProcessExecutor, StdinIsDevNull) {
    // A stdin left open would keep cat waiting until the timeout kills it.
    const auto outcome = run({"cat"}, 60s);
    EXPECT_FALSE(outcome.timed_out);
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_EQ(outcome.out, "");
}

TEST(ProcessExecutor, ProgramsThatCannotStartGiveMinusOneAndAMessage) {
    const auto missing = run({"wgmesh-no-such-program-4711"});
    EXPECT_EQ(missing.exit_code, -1);
    EXPECT_NE(missing.err.find("No such file or directory"), std::string::npos) << missing.err;
    const auto not_executable = run({"/etc/hostname"});
    EXPECT_EQ(not_executable.exit_code, -1);
    EXPECT_NE(not_executable.err.find("/etc/hostname"), std::string::npos);
    EXPECT_EQ(run({}).exit_code, -1);
}

TEST(ProcessExecutor, TimeoutTerminatesTheChild) {
    const auto started = Clock::now();
    const auto outcome = run({"sleep", "30"}, 200ms);
    const auto elapsed = Clock::now() - started;
    EXPECT_TRUE(outcome.timed_out);
    EXPECT_EQ(outcome.exit_code, 128 + 15);
    EXPECT_GE(elapsed, 200ms);
    EXPECT_LT(elapsed, 20s) << "waited for the sleep (30 s) instead of its timeout";
}

TEST(ProcessExecutor, TimeoutKillsAChildThatIgnoresSigterm) {
    const auto started = Clock::now();
    // The shell ignores SIGTERM and so does its sleep, which inherits the disposition.
    // 2 s: time enough for a loaded machine's shell to print "ready" before the timeout.
    const auto outcome = run({"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30"}, 2s);
    const auto elapsed = Clock::now() - started;
    EXPECT_TRUE(outcome.timed_out);
    EXPECT_EQ(outcome.exit_code, 128 + 9);
    EXPECT_EQ(outcome.out, "ready\n");
    EXPECT_GE(elapsed, ProcessExecutor::kKillGrace);
    EXPECT_LT(elapsed, ProcessExecutor::kKillGrace + 20s) << "waited for the sleep (30 s)";
}

TEST(ProcessExecutor, DoesNotWaitForDescendantsHoldingThePipes) {
    const auto started = Clock::now();
    // The background sleep holds the output pipe; its pid is what the shell prints.
    const auto outcome = run({"/bin/sh", "-c", "sleep 120 & echo $!"}, 100s);
    const auto elapsed = Clock::now() - started;
    const pid_t sleeper = static_cast<pid_t>(std::atoi(outcome.out.c_str()));
    if (sleeper > 0) {
        ::kill(sleeper, SIGKILL);
    }
    EXPECT_FALSE(outcome.timed_out);
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_GT(sleeper, 0) << outcome.out;
    EXPECT_LT(elapsed, 60s) << "waited for the background sleep (120 s)";
}

TEST(ProcessExecutor, TheSecretVariableIsNotInherited) {
    setenv("WGMESH_SECRET", "do-not-leak-this-secret", 1);
    setenv("WGMESH_EXECUTOR_TEST", "kept", 1);
    const auto outcome = run({"env"});
    unsetenv("WGMESH_SECRET");
    unsetenv("WGMESH_EXECUTOR_TEST");
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_EQ(outcome.out.find("do-not-leak"), std::string::npos);
    EXPECT_NE(outcome.out.find("WGMESH_EXECUTOR_TEST=kept"), std::string::npos);
}

TEST(ProcessExecutor, OurFileDescriptorsAreNotInherited) {
    const int leaky = open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
    ASSERT_GE(leaky, 3);
    const auto outcome = run({"ls", "/proc/self/fd"});
    close(leaky);
    EXPECT_EQ(outcome.exit_code, 0);
    // ls itself opens one directory fd (3); nothing of ours is there.
    EXPECT_EQ(outcome.out, "0\n1\n2\n3\n");
}

}  // namespace
}  // namespace wgmesh::service
