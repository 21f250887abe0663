// systemd's own tools judge what we generate: systemd-analyze verify and security on the
// unit, systemd's env-file parser on secret.env, and systemctl --root on enable/disable.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "service/installer.h"
#include "service/process_executor.h"
#include "service/secret_env.h"
#include "service/unit_file.h"
#include "tests/support/process.h"

namespace wgmesh::service {
namespace {

namespace fs = std::filesystem;
using test::run_command;

constexpr double kMaxExposure = 1.5;

#define REQUIRE_PROGRAM(name)                                                      \
    do {                                                                           \
        if (!test::program_exists(name)) {                                         \
            GTEST_SKIP() << name << " is not installed (Debian package: systemd)"; \
        }                                                                          \
    } while (0)

// ExecStart= must name an executable that exists for `verify`, outside the paths the
// sandbox hides (a build tree may well live under /tmp): any system binary will do.
constexpr const char* kExistingBinary = "/usr/bin/true";

class SystemdAnalyze : public ::testing::Test {
  protected:
    void SetUp() override {
        char templ[] = "/tmp/wgmesh-analyze-XXXXXX";
        ASSERT_NE(mkdtemp(templ), nullptr);
        dir_ = templ;
    }
    void TearDown() override { fs::remove_all(dir_); }

    // The unit as <dir>/wgmesh.service.
    fs::path write_unit(const JoinOptions& options) {
        const fs::path path = dir_ / "wgmesh.service";
        std::ofstream(path) << generate_unit(options, kExistingBinary);
        return path;
    }

    static JoinOptions every_flag() {
        JoinOptions options;
        options.set_interface("wgmesh-0");
        options.set_listen_port("40000");
        options.set_advertise_routes("192.168.10.0/24,2001:db8:1::/48");
        options.set_mesh_subnet("10.77.0.0/16");
        options.introducer = options.force_relay = options.no_ipv6 = options.privacy = true;
        options.set_state_dir("/var/lib/wgmesh-0/state");
        options.set_peers_file("/etc/wgmesh/peers.json");
        options.set_route_table("100");
        options.set_route_protocol("151");
        options.set_userspace("/usr/bin/wireguard-go");
        options.set_log_level("debug");
        return options;
    }

    static JoinOptions minimal() {
        JoinOptions options;
        options.set_interface("wg0");
        return options;
    }

    fs::path dir_;
};

TEST_F(SystemdAnalyze, VerifyAcceptsTheUnit) {
    REQUIRE_PROGRAM("systemd-analyze");
    for (const auto& options : {minimal(), every_flag()}) {
        const auto unit = write_unit(options);
        const auto result = run_command({"systemd-analyze", "verify", unit.string()});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        // Warnings about the unit itself name its file.
        EXPECT_EQ(result.err.find("wgmesh.service"), std::string::npos) << result.err;
    }
}

TEST_F(SystemdAnalyze, SecurityExposureIsAtMostOnePointFive) {
    REQUIRE_PROGRAM("systemd-analyze");
    for (const auto& options : {minimal(), every_flag()}) {
        const auto unit = write_unit(options);
        const auto result =
            run_command({"systemd-analyze", "security", "--offline=true", unit.string()});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        // std::regex is avoided: GCC 12 warns inside it under ASan (-Werror).
        const std::string marker = "Overall exposure level for wgmesh.service: ";
        const auto at = result.out.find(marker);
        ASSERT_NE(at, std::string::npos) << result.out << result.err;
        const double exposure = std::stod(result.out.substr(at + marker.size()));
        std::cout << "systemd-analyze security --offline=true: exposure " << exposure << "\n";
        EXPECT_LE(exposure, kMaxExposure) << result.out;
    }
}

// systemd reads EnvironmentFile= and os-release with the same parser; SYSTEMD_OS_RELEASE
// points `systemd-analyze condition ConditionOSRelease=` at our secret.env, so systemd
// itself says what value it reads back.
TEST_F(SystemdAnalyze, SystemdReadsTheSecretBackExactly) {
    REQUIRE_PROGRAM("systemd-analyze");
    const fs::path env = dir_ / "secret.env";
    for (const std::string secret :
         {"plain-secret-0123456789", "with \"quotes\" and 'single' ones",
          "back\\slash\\\\double and trailing\\", "dollar $HOME ${PATH} $$ and `backticks`",
          "percent %n %% and # hash ; semicolon = equals", "inner  double  spaces",
          "unicode \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91"}) {
        std::ofstream(env) << format_secret_env(secret);
        // The condition's own syntax: double quotes with \-escapes, specifiers doubled.
        std::string quoted;
        for (const char c : secret) {
            if (c == '"' || c == '\\') {
                quoted += '\\';
            }
            quoted += c;
        }
        const std::string condition =
            "ConditionOSRelease=WGMESH_SECRET=\"" + escape_specifiers(quoted) + "\"";
        const auto same = run_command({"env", "SYSTEMD_OS_RELEASE=" + env.string(),
                                       "systemd-analyze", "condition", condition});
        EXPECT_EQ(same.exit_code, 0) << secret << "\n" << same.err;
        const auto other = run_command(
            {"env", "SYSTEMD_OS_RELEASE=" + env.string(), "systemd-analyze", "condition",
             "ConditionOSRelease=WGMESH_SECRET=\"x" + escape_specifiers(quoted) + "\""});
        EXPECT_NE(other.exit_code, 0) << secret;
    }
}

TEST_F(SystemdAnalyze, SystemctlRootEnablesAndDisablesTheInstalledUnit) {
    REQUIRE_PROGRAM("systemctl");
    ProcessExecutor executor;
    ServiceInstaller installer(executor, dir_, ManagerMode::kOffline);
    installer.install(minimal(), kExistingBinary, "secret-for-systemctl-root-test", true);
    const fs::path wants = dir_ / "etc/systemd/system/multi-user.target.wants/wgmesh.service";
    EXPECT_TRUE(fs::is_symlink(wants));
    EXPECT_EQ(installer.status().enabled_text, "enabled");

    installer.uninstall();
    EXPECT_FALSE(fs::exists(fs::symlink_status(wants)));
    EXPECT_FALSE(fs::exists(dir_ / "etc/systemd/system/wgmesh.service"));
    EXPECT_FALSE(fs::exists(dir_ / "etc/wgmesh"));
    // The state directory is systemd's to create, for the service's user.
    EXPECT_FALSE(fs::exists(dir_ / "var/lib/wgmesh"));
}

}  // namespace
}  // namespace wgmesh::service
