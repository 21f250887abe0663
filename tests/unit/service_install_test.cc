// The installer's real code against a temporary root, with systemctl recorded and scripted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "service/installer.h"
#include "service/join_options.h"
#include "service/unit_file.h"
#include "tests/support/recording_executor.h"

namespace wgmesh::service {
namespace {

namespace fs = std::filesystem;
using test::outcome;
using test::RecordingExecutor;
using Calls = std::vector<std::vector<std::string>>;

constexpr const char* kSecret = "s3cret-\"mesh\"-$HOME-`x`-\\-value";
constexpr const char* kBinary = "/usr/local/bin/wgmesh";

class ServiceInstall : public ::testing::Test {
  protected:
    void SetUp() override {
        char templ[] = "/tmp/wgmesh-install-XXXXXX";
        ASSERT_NE(mkdtemp(templ), nullptr);
        root_ = templ;
        options_.set_interface("wg0");
    }
    void TearDown() override { fs::remove_all(root_); }

    fs::path at(const char* absolute) const { return root_ / fs::path(absolute).relative_path(); }

    static std::string read(const fs::path& path) {
        std::ifstream in(path, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), {}};
    }
    static mode_t mode_of(const fs::path& path) {
        struct stat st {};
        EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
        return st.st_mode & 07777;
    }

    ServiceInstaller live() { return ServiceInstaller(executor_, root_, ManagerMode::kLive); }

    // Every regular file under the root that contains `needle`.
    std::vector<fs::path> files_containing(const std::string& needle) const {
        std::vector<fs::path> found;
        for (const auto& entry : fs::recursive_directory_iterator(root_)) {
            if (entry.is_regular_file() && read(entry.path()).find(needle) != std::string::npos) {
                found.push_back(entry.path());
            }
        }
        return found;
    }

    fs::path root_;
    JoinOptions options_;
    RecordingExecutor executor_;
};

TEST_F(ServiceInstall, WritesEveryFileWithItsModeAndRunsSystemctlInOrder) {
    const auto result = live().install(options_, kBinary, kSecret, true);
    EXPECT_TRUE(result.unit_changed);
    EXPECT_TRUE(result.secret_changed);
    EXPECT_EQ(result.start_verb, "start");

    EXPECT_EQ(executor_.calls(), (Calls{{"systemctl", "daemon-reload"},
                                        {"systemctl", "enable", "wgmesh.service"},
                                        {"systemctl", "start", "wgmesh.service"}}));
    EXPECT_EQ(executor_.timeouts().back(), ServiceInstaller::kStartStopTimeout);

    EXPECT_EQ(mode_of(at("/etc/wgmesh")), 0711u);
    EXPECT_EQ(mode_of(at("/etc/wgmesh/secret.env")), 0600u);
    EXPECT_EQ(mode_of(at("/etc/systemd/system/wgmesh.service")), 0644u);
    // systemd creates the state directory for the service's user (StateDirectory=); one
    // made here would belong to root.
    EXPECT_FALSE(fs::exists(at("/var/lib/wgmesh")));
    EXPECT_TRUE(result.warnings.empty());
    EXPECT_EQ(mode_of(at("/etc/iproute2/rt_protos.d/wgmesh.conf")), 0644u);

    EXPECT_EQ(read(at("/etc/systemd/system/wgmesh.service")), generate_unit(options_, kBinary));
    const std::string env = read(at("/etc/wgmesh/secret.env"));
    EXPECT_NE(env.find("\nWGMESH_SECRET=\"s3cret-\\\"mesh\\\"-\\$HOME-\\`x\\`-\\\\-value\"\n"),
              std::string::npos)
        << env;
    EXPECT_EQ(read(at("/etc/iproute2/rt_protos.d/wgmesh.conf")), "150 wgmesh\n");
    // No temporary files are left behind.
    for (const char* dir : {"/etc/wgmesh", "/etc/systemd/system", "/etc/iproute2/rt_protos.d"}) {
        EXPECT_EQ(std::distance(fs::directory_iterator(at(dir)), fs::directory_iterator()), 1)
            << dir;
    }
}

TEST_F(ServiceInstall, TheSecretIsOnlyInSecretEnvAndNeverInACommandLine) {
    options_.set_state_dir("/var/lib/wgmesh-state");
    options_.set_route_protocol("199");
    live().install(options_, kBinary, kSecret, true);
    EXPECT_EQ(files_containing("s3cret-"), std::vector<fs::path>{at("/etc/wgmesh/secret.env")});
    EXPECT_EQ(files_containing("mesh\\\""), std::vector<fs::path>{at("/etc/wgmesh/secret.env")});
    for (const auto& call : executor_.calls()) {
        for (const auto& arg : call) {
            EXPECT_EQ(arg.find("s3cret"), std::string::npos);
        }
    }
    EXPECT_FALSE(fs::exists(at("/var/lib/wgmesh-state")));
    EXPECT_EQ(read(at("/etc/iproute2/rt_protos.d/wgmesh.conf")), "199 wgmesh\n");
}

TEST_F(ServiceInstall, SecretIsPrivateEvenWithAPermissiveUmask) {
    const mode_t old = umask(0);
    live().install(options_, kBinary, kSecret, false);
    umask(old);
    EXPECT_EQ(mode_of(at("/etc/wgmesh")), 0711u);
    EXPECT_EQ(mode_of(at("/etc/wgmesh/secret.env")), 0600u);
}

TEST_F(ServiceInstall, AnExistingSecretDirectoryIsTightenedAndALinkIsRefused) {
    fs::create_directories(at("/etc/wgmesh"));
    chmod(at("/etc/wgmesh").c_str(), 0755);
    live().install(options_, kBinary, kSecret, false);
    EXPECT_EQ(mode_of(at("/etc/wgmesh")), 0711u);

    fs::remove_all(at("/etc/wgmesh"));
    fs::create_directories(root_ / "elsewhere");
    fs::create_directory_symlink(root_ / "elsewhere", at("/etc/wgmesh"));
    EXPECT_THROW(live().install(options_, kBinary, kSecret, false), std::system_error);
    EXPECT_FALSE(fs::exists(root_ / "elsewhere" / "secret.env"));
}

// The service runs as its own unprivileged user: a peers file it could not read is named
// with what to change, and the installation goes ahead.
TEST_F(ServiceInstall, APeersFileTheServiceUserCannotReadIsWarnedAbout) {
    const auto install_with = [this](const char* peers) {
        options_.set_peers_file(peers);
        return live().install(options_, kBinary, kSecret, false).warnings;
    };
    // Missing yet: the daemon says so when it starts.
    EXPECT_TRUE(install_with("/etc/wgmesh/peers.json").empty());

    // In the secret directory, which install keeps traversable (0711), readable by others.
    std::ofstream(at("/etc/wgmesh/peers.json")) << "[]\n";
    chmod(at("/etc/wgmesh/peers.json").c_str(), 0644);
    chmod(at("/etc/wgmesh").c_str(), 0700);
    EXPECT_TRUE(install_with("/etc/wgmesh/peers.json").empty());

    chmod(at("/etc/wgmesh/peers.json").c_str(), 0600);
    auto warnings = install_with("/etc/wgmesh/peers.json");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("--peers-file /etc/wgmesh/peers.json"), std::string::npos);
    EXPECT_NE(warnings[0].find("cannot read /etc/wgmesh/peers.json (mode 0600)"), std::string::npos)
        << warnings[0];
    EXPECT_TRUE(fs::exists(at("/etc/systemd/system/wgmesh.service")));

    fs::create_directories(at("/srv/mesh"));
    chmod(at("/srv/mesh").c_str(), 0750);
    std::ofstream(at("/srv/mesh/peers.json")) << "[]\n";
    chmod(at("/srv/mesh/peers.json").c_str(), 0644);
    warnings = install_with("/srv/mesh/peers.json");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("cannot enter /srv/mesh (mode 0750)"), std::string::npos)
        << warnings[0];
}

TEST_F(ServiceInstall, ProgramsTheServiceUserCannotRunAreWarnedAbout) {
    fs::create_directories(at("/opt/mesh/bin"));
    chmod(at("/opt/mesh").c_str(), 0700);
    for (const char* name : {"wgmesh", "wireguard-go"}) {
        std::ofstream(at("/opt/mesh/bin") / name) << "#!/bin/sh\n";
        chmod((at("/opt/mesh/bin") / name).c_str(), 0755);
    }
    options_.set_userspace("/opt/mesh/bin/wireguard-go");
    auto warnings = live().install(options_, "/opt/mesh/bin/wgmesh", kSecret, false).warnings;
    ASSERT_EQ(warnings.size(), 2u);
    EXPECT_NE(warnings[0].find("--binary /opt/mesh/bin/wgmesh: "), std::string::npos);
    EXPECT_NE(warnings[0].find("cannot enter /opt/mesh (mode 0700)"), std::string::npos)
        << warnings[0];
    EXPECT_NE(warnings[1].find("--userspace /opt/mesh/bin/wireguard-go: "), std::string::npos);

    chmod(at("/opt/mesh").c_str(), 0755);
    chmod(at("/opt/mesh/bin/wgmesh").c_str(), 0750);
    warnings = live().install(options_, "/opt/mesh/bin/wgmesh", kSecret, false).warnings;
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("cannot run /opt/mesh/bin/wgmesh (mode 0750)"), std::string::npos)
        << warnings[0];

    chmod(at("/opt/mesh/bin/wgmesh").c_str(), 0755);
    EXPECT_TRUE(live().install(options_, "/opt/mesh/bin/wgmesh", kSecret, false).warnings.empty());
}

TEST_F(ServiceInstall, NoStartMeansNoStartCall) {
    const auto result = live().install(options_, kBinary, kSecret, false);
    EXPECT_EQ(result.start_verb, "");
    EXPECT_EQ(executor_.calls(),
              (Calls{{"systemctl", "daemon-reload"}, {"systemctl", "enable", "wgmesh.service"}}));
}

TEST_F(ServiceInstall, ReinstallRestartsOnlyWhenUnitOrSecretChanged) {
    live().install(options_, kBinary, kSecret, true);
    executor_.clear_calls();

    auto result = live().install(options_, kBinary, kSecret, true);
    EXPECT_FALSE(result.unit_changed);
    EXPECT_FALSE(result.secret_changed);
    EXPECT_EQ(executor_.calls().back(),
              (std::vector<std::string>{"systemctl", "start", "wgmesh.service"}));

    options_.introducer = true;
    result = live().install(options_, kBinary, kSecret, true);
    EXPECT_TRUE(result.unit_changed);
    EXPECT_EQ(executor_.calls().back(),
              (std::vector<std::string>{"systemctl", "restart", "wgmesh.service"}));

    result = live().install(options_, kBinary, "another-secret-0123456789", true);
    EXPECT_FALSE(result.unit_changed);
    EXPECT_TRUE(result.secret_changed);
    EXPECT_EQ(result.start_verb, "restart");
}

TEST_F(ServiceInstall, FailingEnableIsReportedAndLeavesNoSecretBehind) {
    executor_.script({"systemctl", "enable", "wgmesh.service"},
                     outcome(1, "", "Failed to enable unit: Access denied\n"));
    try {
        live().install(options_, kBinary, kSecret, true);
        FAIL() << "install succeeded";
    } catch (const std::runtime_error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("systemctl enable wgmesh.service' failed (exit 1)"),
                  std::string::npos)
            << message;
        EXPECT_NE(message.find("Failed to enable unit: Access denied"), std::string::npos);
        EXPECT_EQ(message.find("s3cret"), std::string::npos);
    }
    EXPECT_FALSE(fs::exists(at("/etc/wgmesh/secret.env")));
    EXPECT_FALSE(fs::exists(at("/etc/systemd/system/wgmesh.service")));
    EXPECT_FALSE(fs::exists(at("/etc/iproute2/rt_protos.d/wgmesh.conf")));
    EXPECT_TRUE(files_containing("s3cret").empty());
    // The manager saw the unit appear, so it is told that it is gone again.
    EXPECT_EQ(executor_.calls(), (Calls{{"systemctl", "daemon-reload"},
                                        {"systemctl", "enable", "wgmesh.service"},
                                        {"systemctl", "daemon-reload"}}));
}

TEST_F(ServiceInstall, FailingEnableOnUpgradeRestoresThePreviousInstallation) {
    live().install(options_, kBinary, kSecret, true);
    const std::string unit = read(at("/etc/systemd/system/wgmesh.service"));
    const std::string env = read(at("/etc/wgmesh/secret.env"));
    executor_.script({"systemctl", "enable", "wgmesh.service"}, outcome(1, "", "no\n"));

    JoinOptions changed = options_;
    changed.set_listen_port("40000");
    EXPECT_THROW(live().install(changed, kBinary, "a-different-secret-value", true),
                 std::runtime_error);
    EXPECT_EQ(read(at("/etc/systemd/system/wgmesh.service")), unit);
    EXPECT_EQ(read(at("/etc/wgmesh/secret.env")), env);
    EXPECT_EQ(mode_of(at("/etc/wgmesh/secret.env")), 0600u);
    EXPECT_TRUE(files_containing("a-different-secret").empty());
}

TEST_F(ServiceInstall, FailingDaemonReloadAndUnrunnableSystemctlAreReported) {
    executor_.script({"systemctl", "daemon-reload"}, outcome(1, "", "Access denied\n"));
    EXPECT_THROW(live().install(options_, kBinary, kSecret, true), std::runtime_error);
    EXPECT_EQ(executor_.calls(), (Calls{{"systemctl", "daemon-reload"}}));
    EXPECT_FALSE(fs::exists(at("/etc/wgmesh/secret.env")));

    RecordingExecutor missing;
    missing.set_default(outcome(-1, "", "cannot run 'systemctl': No such file or directory"));
    ServiceInstaller installer(missing, root_, ManagerMode::kLive);
    try {
        installer.install(options_, kBinary, kSecret, true);
        FAIL() << "install succeeded";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos);
    }
    EXPECT_FALSE(fs::exists(at("/etc/wgmesh/secret.env")));
}

TEST_F(ServiceInstall, FailingStartKeepsTheInstallationAndPointsToTheJournal) {
    executor_.script({"systemctl", "start", "wgmesh.service"},
                     outcome(1, "", "Job for wgmesh.service failed.\n"));
    try {
        live().install(options_, kBinary, kSecret, true);
        FAIL() << "install succeeded";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("journalctl -u wgmesh.service"), std::string::npos);
    }
    EXPECT_TRUE(fs::exists(at("/etc/wgmesh/secret.env")));
    EXPECT_TRUE(fs::exists(at("/etc/systemd/system/wgmesh.service")));
}

TEST_F(ServiceInstall, InvalidInputWritesNothing) {
    EXPECT_THROW(live().install(options_, kBinary, "line\nbreak-in-the-secret", true),
                 std::invalid_argument);
    JoinOptions bad = options_;
    bad.interface = "wg0;x";
    EXPECT_THROW(live().install(bad, kBinary, kSecret, true), std::invalid_argument);
    EXPECT_TRUE(executor_.calls().empty());
    EXPECT_FALSE(fs::exists(at("/etc")));
}

TEST_F(ServiceInstall, OfflineRootOnlyEnablesThroughSystemctlRoot) {
    ServiceInstaller installer(executor_, root_, ManagerMode::kOffline);
    const auto result = installer.install(options_, kBinary, kSecret, true);
    EXPECT_EQ(result.start_verb, "");
    EXPECT_EQ(executor_.calls(),
              (Calls{{"systemctl", "--root=" + root_.string(), "enable", "wgmesh.service"}}));
    executor_.clear_calls();
    installer.uninstall();
    EXPECT_EQ(executor_.calls(),
              (Calls{{"systemctl", "--root=" + root_.string(), "disable", "wgmesh.service"}}));
    EXPECT_FALSE(fs::exists(at("/etc/systemd/system/wgmesh.service")));
}

TEST_F(ServiceInstall, UninstallStopsDisablesRemovesAndKeepsTheState) {
    live().install(options_, kBinary, kSecret, true);
    fs::create_directories(at("/var/lib/wgmesh"));
    std::ofstream(at("/var/lib/wgmesh/wg0.key")) << "key\n";
    executor_.clear_calls();

    const auto result = live().uninstall();
    EXPECT_TRUE(result.unit_removed);
    EXPECT_TRUE(result.secret_removed);
    EXPECT_EQ(executor_.calls(), (Calls{{"systemctl", "stop", "wgmesh.service"},
                                        {"systemctl", "disable", "wgmesh.service"},
                                        {"systemctl", "daemon-reload"}}));
    EXPECT_FALSE(fs::exists(at("/etc/systemd/system/wgmesh.service")));
    EXPECT_FALSE(fs::exists(at("/etc/wgmesh")));
    EXPECT_FALSE(fs::exists(at("/etc/iproute2/rt_protos.d/wgmesh.conf")));
    EXPECT_EQ(read(at("/var/lib/wgmesh/wg0.key")), "key\n");

    executor_.clear_calls();
    const auto again = live().uninstall();
    EXPECT_FALSE(again.unit_removed);
    EXPECT_TRUE(executor_.calls().empty());
}

TEST_F(ServiceInstall, UninstallKeepsAForeignFileInTheSecretDirectory) {
    live().install(options_, kBinary, kSecret, true);
    std::ofstream(at("/etc/wgmesh/peers.json")) << "[]\n";
    live().uninstall();
    EXPECT_FALSE(fs::exists(at("/etc/wgmesh/secret.env")));
    EXPECT_TRUE(fs::exists(at("/etc/wgmesh/peers.json")));
}

TEST_F(ServiceInstall, UninstallToleratesAnUnloadedUnitButNotAFailedStop) {
    live().install(options_, kBinary, kSecret, false);
    executor_.script({"systemctl", "stop", "wgmesh.service"},
                     outcome(1, "", "Job for wgmesh.service canceled.\n"));
    EXPECT_THROW(live().uninstall(), std::runtime_error);
    EXPECT_TRUE(fs::exists(at("/etc/systemd/system/wgmesh.service")));
    EXPECT_TRUE(fs::exists(at("/etc/wgmesh/secret.env")));

    RecordingExecutor unloaded;
    unloaded.script({"systemctl", "stop", "wgmesh.service"},
                    outcome(5, "",
                            "Failed to stop wgmesh.service: Unit wgmesh.service not "
                            "loaded.\n"));
    ServiceInstaller installer(unloaded, root_, ManagerMode::kLive);
    EXPECT_TRUE(installer.uninstall().unit_removed);
}

TEST_F(ServiceInstall, StatusParsesIsActiveWhateverItsExitCode) {
    struct Case {
        int exit_code;
        const char* out;
        ServiceState state;
    };
    for (const Case& c :
         {Case{0, "active\n", ServiceState::kActive},
          Case{3, "inactive\n", ServiceState::kInactive},
          Case{3, "failed\n", ServiceState::kFailed},
          Case{3, "activating\n", ServiceState::kActivating},
          Case{3, "deactivating\n", ServiceState::kDeactivating},
          Case{0, "reloading\n", ServiceState::kReloading},
          Case{4, "unknown\n", ServiceState::kUnknown}, Case{3, "", ServiceState::kUnknown}}) {
        RecordingExecutor executor;
        executor.script({"systemctl", "is-active", "wgmesh.service"}, outcome(c.exit_code, c.out));
        executor.script({"systemctl", "is-enabled", "wgmesh.service"}, outcome(1, "disabled\n"));
        ServiceInstaller installer(executor, root_, ManagerMode::kLive);
        const auto status = installer.status();
        EXPECT_EQ(status.state, c.state) << c.out;
        EXPECT_EQ(status.enabled_text, "disabled");
        EXPECT_FALSE(status.unit_installed);
    }
    EXPECT_EQ(to_string(ServiceState::kActivating), "activating");

    RecordingExecutor no_manager;
    no_manager.script({"systemctl", "is-active", "wgmesh.service"},
                      outcome(1, "",
                              "System has not been booted with systemd as init system "
                              "(PID 1). Can't operate.\nFailed to connect to bus\n"));
    ServiceInstaller installer(no_manager, root_, ManagerMode::kLive);
    const auto status = installer.status();
    EXPECT_EQ(status.state, ServiceState::kUnknown);
    EXPECT_EQ(status.state_text, "unknown");
    EXPECT_EQ(status.problem,
              "System has not been booted with systemd as init system (PID 1). Can't operate.");
}

TEST_F(ServiceInstall, StatusReportsTheFilesAndAMissingUnit) {
    live().install(options_, kBinary, kSecret, true);
    executor_.script({"systemctl", "is-active", "wgmesh.service"}, outcome(0, "active\n"));
    executor_.script({"systemctl", "is-enabled", "wgmesh.service"},
                     outcome(1, "", "Failed to get unit file state\n"));
    const auto status = live().status();
    EXPECT_EQ(status.state, ServiceState::kActive);
    EXPECT_EQ(status.state_text, "active");
    EXPECT_EQ(status.enabled_text, "not-found");
    EXPECT_TRUE(status.unit_installed);
    EXPECT_TRUE(status.secret_installed);
}

}  // namespace
}  // namespace wgmesh::service
