// `wgmesh service` and the shared join flags, through the built binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "service/unit_file.h"
#include "tests/support/process.h"
#include "tools/wgmesh/flags.h"
#include "tools/wgmesh/join_flags.h"

namespace wgmesh::cli {
namespace {

namespace fs = std::filesystem;
using test::run_command;

constexpr const char* kSecret = "cli-secret-value-0123456789";

std::vector<std::string> wgmesh(std::vector<std::string> args) {
    args.insert(args.begin(), WGMESH_BINARY);
    return args;
}

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

class ServiceCli : public ::testing::Test {
  protected:
    void SetUp() override {
        char templ[] = "/tmp/wgmesh-cli-XXXXXX";
        ASSERT_NE(mkdtemp(templ), nullptr);
        root_ = templ;
        unsetenv("WGMESH_SECRET");
    }
    void TearDown() override {
        unsetenv("WGMESH_SECRET");
        fs::remove_all(root_);
    }

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
};

TEST_F(ServiceCli, HelpIsPrintedToStdout) {
    auto result = run_command(wgmesh({"service", "--help"}));
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_NE(result.out.find("Usage: wgmesh service unit"), std::string::npos);
    result = run_command(wgmesh({"service", "install", "--help"}));
    EXPECT_EQ(result.exit_code, 0);
    for (const char* flag :
         {"--interface", "--route-protocol", "--secret-file", "--no-start", "--root", "--binary"}) {
        EXPECT_NE(result.out.find(flag), std::string::npos) << flag;
    }
}

TEST_F(ServiceCli, UnitPrintsTheGeneratedUnit) {
    const auto result =
        run_command(wgmesh({"service", "unit", "--interface", "wg7", "--listen-port=40000",
                            "--introducer", "--binary", "/usr/bin/wgmesh"}));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    service::JoinOptions options;
    options.set_interface("wg7");
    options.set_listen_port("40000");
    options.introducer = true;
    EXPECT_EQ(result.out, service::generate_unit(options, "/usr/bin/wgmesh"));
}

TEST_F(ServiceCli, UnitTemplatePrintsThePackagedTemplate) {
    auto result =
        run_command(wgmesh({"service", "unit", "--template", "--binary", "/usr/sbin/wgmesh"}));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, service::generate_template_unit("/usr/sbin/wgmesh"));

    // Join flags belong in WGMESH_ARGS, read when the instance starts.
    result = run_command(wgmesh({"service", "unit", "--template", "--interface", "wg0"}));
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("WGMESH_ARGS"), std::string::npos) << result.err;
    EXPECT_TRUE(result.out.empty());
}

TEST_F(ServiceCli, ExecStartDefaultsToThisBinary) {
    const auto result = run_command(wgmesh({"service", "unit", "--interface", "wg0"}));
    const std::string binary = fs::canonical(WGMESH_BINARY).string();
    // A build tree under a path the sandbox hides must be refused, not written into a unit
    // that could never start.
    for (const char* hidden : {"/tmp/", "/var/tmp/", "/home/", "/root/"}) {
        if (binary.rfind(hidden, 0) == 0) {
            EXPECT_EQ(result.exit_code, 1);
            EXPECT_NE(result.err.find("hidden from the service by its sandbox"), std::string::npos)
                << result.err;
            return;
        }
    }
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("\nExecStart=" + binary + " join --interface wg0\n"),
              std::string::npos)
        << result.out;
}

TEST_F(ServiceCli, BadValuesAreUsageErrorsNamingTheFlag) {
    struct Case {
        std::vector<std::string> args;
        const char* expected;
    };
    const Case cases[] = {
        {{"--interface", "wg0;reboot"}, "--interface"},
        {{"--interface", "a-very-long-ifname"}, "--interface"},
        {{"--interface", "wg0", "--advertise-routes", "10.0.0.0/8\nExecStartPre=/bin/id"},
         "--advertise-routes"},
        {{"--interface", "wg0", "--mesh-subnet", "10.0.0.0/16%n"}, "--mesh-subnet"},
        {{"--interface", "wg0", "--state-dir", "/var/lib/$USER"}, "--state-dir"},
        {{"--interface", "wg0", "--peers-file", "/etc/\"peers\""}, "--peers-file"},
        {{"--interface", "wg0", "--binary", "relative/wgmesh"}, "--binary"},
        {{"--interface", "wg0", "--listen-port", "99999"}, "--listen-port"},
        {{}, "--interface"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args = {"service", "unit"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        const auto result = run_command(wgmesh(args));
        EXPECT_EQ(result.exit_code, 1) << c.expected;
        EXPECT_EQ(result.out, "") << c.expected;
        EXPECT_NE(result.err.find(c.expected), std::string::npos) << result.err;
        EXPECT_NE(result.err.find("Try 'wgmesh service --help'"), std::string::npos);
    }
    EXPECT_EQ(run_command(wgmesh({"service", "frobnicate"})).exit_code, 1);
    EXPECT_EQ(run_command(wgmesh({"service"})).exit_code, 1);
    EXPECT_EQ(run_command(wgmesh({"service", "status", "--interface", "wg0"})).exit_code, 1);
}

TEST_F(ServiceCli, InstallUnderRootReadsTheSecretFromEveryPlace) {
    if (!test::program_exists("systemctl")) {
        GTEST_SKIP() << "systemctl is not installed (Debian package: systemd)";
    }
    const fs::path secret_file = root_ / "given-secret";
    std::ofstream(secret_file) << "wgmesh://v1/" << kSecret << "?via=file\n";
    const fs::path env_file = root_ / "etc/wgmesh/secret.env";
    const std::string expected = "\nWGMESH_SECRET=\"" + std::string(kSecret) + "\"\n";

    auto result = run_command(wgmesh({"service", "install", "--interface", "wg0", "--root",
                                      root_.string(), "--secret-file", secret_file.string()}));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(read(env_file).find(expected), std::string::npos);
    fs::remove(secret_file);
    EXPECT_EQ(files_containing(kSecret), std::vector<fs::path>{env_file});
    EXPECT_TRUE(
        fs::is_symlink(root_ / "etc/systemd/system/multi-user.target.wants/wgmesh.service"));

    setenv("WGMESH_SECRET", "  env-secret-0123456789  ", 1);
    result =
        run_command(wgmesh({"service", "install", "--interface", "wg0", "--root", root_.string()}));
    unsetenv("WGMESH_SECRET");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(read(env_file).find("\nWGMESH_SECRET=\"env-secret-0123456789\"\n"),
              std::string::npos);

    result =
        run_command(wgmesh({"service", "install", "--interface", "wg0", "--root", root_.string()}),
                    "stdin-secret-0123456789\n");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(read(env_file).find("\nWGMESH_SECRET=\"stdin-secret-0123456789\"\n"),
              std::string::npos);

    result = run_command(wgmesh({"service", "status", "--root", root_.string()}));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("(enabled)"), std::string::npos) << result.out;

    result = run_command(wgmesh({"service", "uninstall", "--root", root_.string()}));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_FALSE(fs::exists(env_file));
}

TEST_F(ServiceCli, InstallWithoutAUsableSecretWritesNothing) {
    auto result = run_command(
        wgmesh({"service", "install", "--interface", "wg0", "--root", root_.string()}), "short\n");
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("at least 16 bytes"), std::string::npos) << result.err;
    result = run_command(wgmesh({"service", "install", "--interface", "wg0", "--root",
                                 root_.string(), "--secret-file", "/nonexistent/secret"}));
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_TRUE(fs::is_empty(root_));
}

TEST(JoinFlags, OptionsSurviveTheirOwnArguments) {
    service::JoinOptions options;
    options.set_interface("wg9");
    options.set_listen_port("1234");
    options.set_advertise_routes("10.9.0.0/16,fd00:9::/64");
    options.set_mesh_subnet("10.88.0.0/16");
    options.force_relay = options.privacy = true;
    options.set_state_dir("/srv/state");
    options.set_peers_file("/etc/wgmesh/peers.json");
    options.set_route_table("77");
    options.set_route_protocol("200");
    options.set_userspace("boringtun-cli");
    options.set_wireguard_backend("userspace");
    options.set_log_level("debug");
    const auto args = options.to_arguments();
    const auto specs = join_flag_specs();
    EXPECT_EQ(join_options_from_flags(Flags(args, specs)), options);

    const std::vector<std::string> only = {"--interface", "wg0"};
    service::JoinOptions defaults;
    defaults.set_interface("wg0");
    EXPECT_EQ(join_options_from_flags(Flags(only, specs)), defaults);
    EXPECT_EQ(defaults.to_arguments(), only);
}

TEST(JoinFlags, WireguardBackendIsOneOfThreeNamesAndOnlyANonDefaultIsWritten) {
    const auto specs = join_flag_specs();
    for (const std::string backend : {"auto", "kernel", "userspace"}) {
        const std::vector<std::string> args = {"--interface", "wg0", "--wireguard-backend",
                                               backend};
        const auto options = join_options_from_flags(Flags(args, specs));
        EXPECT_EQ(options.wireguard_backend, backend);
        const auto written = options.to_arguments();
        if (backend == service::kDefaultWireguardBackend) {
            EXPECT_EQ(written, (std::vector<std::string>{"--interface", "wg0"}));
        } else {
            EXPECT_EQ(written, args);
        }
    }
    for (const std::string bad : {"", "Kernel", "wireguard-go", "kernel ", "user space"}) {
        const std::vector<std::string> args = {"--interface", "wg0", "--wireguard-backend", bad};
        try {
            join_options_from_flags(Flags(args, specs));
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const UsageError& e) {
            EXPECT_EQ(std::string(e.what()).rfind("--wireguard-backend", 0), 0u) << e.what();
            EXPECT_NE(std::string(e.what()).find("auto, kernel, userspace"), std::string::npos)
                << e.what();
        }
    }
    // Set directly, it is checked again.
    service::JoinOptions options;
    options.set_interface("wg0");
    options.wireguard_backend = "fast";
    EXPECT_THROW(options.validate(), std::invalid_argument);
}

TEST(JoinFlags, WireguardBackendIsInTheHelpAndTheUnit) {
    const auto help = run_command(wgmesh({"join", "--help"}));
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--wireguard-backend"), std::string::npos) << help.out;
    const auto unit =
        run_command(wgmesh({"service", "unit", "--interface", "wg7", "--wireguard-backend",
                            "userspace", "--binary", "/usr/bin/wgmesh"}));
    ASSERT_EQ(unit.exit_code, 0) << unit.err;
    EXPECT_NE(unit.out.find("ExecStart=/usr/bin/wgmesh join --interface wg7 --wireguard-backend "
                            "userspace\n"),
              std::string::npos)
        << unit.out;
    const auto bad = run_command(
        wgmesh({"service", "unit", "--interface", "wg7", "--wireguard-backend", "boringtun"}));
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.err.find("--wireguard-backend"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace wgmesh::cli
