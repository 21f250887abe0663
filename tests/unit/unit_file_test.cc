#include "service/unit_file.h"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "service/join_options.h"
#include "service/secret_env.h"

namespace wgmesh::service {
namespace {

constexpr const char* kBinary = "/usr/local/bin/wgmesh";

JoinOptions minimal() {
    JoinOptions options;
    options.set_interface("wg0");
    return options;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& key) {
    std::vector<std::string> found;
    for (const auto& line : lines_of(text)) {
        if (line.rfind(key, 0) == 0) {
            found.push_back(line);
        }
    }
    return found;
}

std::string single(const std::string& text, const std::string& key) {
    const auto found = lines_starting(text, key);
    EXPECT_EQ(found.size(), 1u) << key;
    return found.empty() ? "" : found.front();
}

// The message of the std::invalid_argument that `f` throws, or "" when it does not throw.
template <typename F>
std::string rejection(F&& f) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

TEST(UnitFile, CarriesTheRequiredServiceSettingsAndHardening) {
    const std::string unit = generate_unit(minimal(), kBinary);
    for (const char* line : {
             "[Unit]",
             "Wants=network-online.target",
             "After=network-online.target",
             "[Service]",
             "Type=notify",
             "Restart=always",
             "RestartSec=5",
             "EnvironmentFile=/etc/wgmesh/secret.env",
             "NoNewPrivileges=yes",
             "ProtectSystem=strict",
             "ProtectHome=true",
             "ReadWritePaths=/proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf",
             "DynamicUser=yes",
             "User=wgmesh",
             "Group=wgmesh",
             "StateDirectory=wgmesh",
             "StateDirectoryMode=0700",
             "RuntimeDirectory=wgmesh wireguard",
             "RuntimeDirectoryMode=0700",
             "CapabilityBoundingSet=CAP_NET_ADMIN",
             "AmbientCapabilities=CAP_NET_ADMIN",
             "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6",
             "ProtectKernelTunables=yes",
             "ProtectKernelModules=yes",
             "ProtectKernelLogs=yes",
             "ProtectControlGroups=yes",
             "ProtectClock=yes",
             "ProtectHostname=yes",
             "PrivateTmp=yes",
             "PrivateDevices=yes",
             "BindPaths=-/dev/net/tun",
             "DeviceAllow=/dev/net/tun rw",
             "RestrictNamespaces=yes",
             "RestrictRealtime=yes",
             "RestrictSUIDSGID=yes",
             "LockPersonality=yes",
             "MemoryDenyWriteExecute=yes",
             "SystemCallArchitectures=native",
             "SystemCallFilter=@system-service",
             "SystemCallFilter=~@privileged @resources",
             "UMask=0077",
             "LimitCORE=0",
             "[Install]",
             "WantedBy=multi-user.target",
         }) {
        EXPECT_EQ(lines_starting(unit, line).size(), 1u) << line << "\n" << unit;
    }
}

// Not root: one user of its own (allocated by systemd, or a system user "wgmesh" a package
// created) holding CAP_NET_ADMIN and nothing else, also after execve of wireguard-go.
TEST(UnitFile, RunsAsItsOwnUserWithOnlyCapNetAdmin) {
    const std::string unit = generate_unit(minimal(), kBinary);
    EXPECT_EQ(single(unit, "User="), "User=wgmesh");
    EXPECT_EQ(single(unit, "DynamicUser="), "DynamicUser=yes");
    EXPECT_EQ(single(unit, "AmbientCapabilities="), "AmbientCapabilities=CAP_NET_ADMIN");
    EXPECT_EQ(single(unit, "CapabilityBoundingSet="), "CapabilityBoundingSet=CAP_NET_ADMIN");
    // Nothing that would hand out more: no supplementary groups, no privileged Exec prefixes.
    EXPECT_TRUE(lines_starting(unit, "SupplementaryGroups=").empty());
    for (const auto& line : lines_starting(unit, "Exec")) {
        const auto value = line.substr(line.find('=') + 1);
        EXPECT_NE(value.front(), '+') << line;
        EXPECT_NE(value.front(), '!') << line;
    }
}

TEST(UnitFile, TheStateDirectoryIsSystemdsUnderVarLib) {
    JoinOptions options = minimal();
    options.set_state_dir("/var/lib/wgmesh-wg0/state");
    const std::string unit = generate_unit(options, kBinary);
    EXPECT_EQ(single(unit, "StateDirectory="), "StateDirectory=wgmesh-wg0/state");
    EXPECT_NE(single(unit, "ExecStart=").find("--state-dir /var/lib/wgmesh-wg0/state"),
              std::string::npos);
    for (const char* outside : {"/srv/wgmesh", "/var/library/wgmesh", "/var/lib", "/etc/wgmesh"}) {
        options.set_state_dir(outside);
        EXPECT_NE(rejection([&] { generate_unit(options, kBinary); }).find("--state-dir"),
                  std::string::npos)
            << outside;
    }
}

TEST(UnitFile, DefaultOptionsGiveOnlyTheInterface) {
    EXPECT_EQ(single(generate_unit(minimal(), kBinary), "ExecStart="),
              "ExecStart=/usr/local/bin/wgmesh join --interface wg0");

    // Defaults given explicitly are still defaults.
    JoinOptions options = minimal();
    options.set_listen_port("51820");
    options.set_state_dir("/var/lib/wgmesh");
    options.set_route_table("254");
    options.set_route_protocol("150");
    options.set_userspace("wireguard-go");
    options.set_log_level("info");
    EXPECT_EQ(single(generate_unit(options, kBinary), "ExecStart="),
              "ExecStart=/usr/local/bin/wgmesh join --interface wg0");
}

TEST(UnitFile, NonDefaultFlagsAreWrittenNormalisedInSpecOrder) {
    JoinOptions options = minimal();
    options.set_log_level("warning");
    options.set_userspace("/usr/bin/wireguard-go");
    options.set_route_protocol("151");
    options.set_route_table("100");
    options.set_peers_file("/etc/wgmesh/peers.json");
    options.set_state_dir("/var/lib/wgmesh-wg0");
    options.privacy = true;
    options.no_ipv6 = true;
    options.force_relay = true;
    options.introducer = true;
    options.set_mesh_subnet("10.99.7.1/16");
    options.set_advertise_routes("192.168.1.77/24,2001:db8::1/48,192.168.1.0/24");
    options.set_listen_port("51900");
    const std::string unit = generate_unit(options, "/opt/wgmesh/bin/wgmesh");
    EXPECT_EQ(single(unit, "ExecStart="),
              "ExecStart=/opt/wgmesh/bin/wgmesh join --interface wg0 --listen-port 51900 "
              "--advertise-routes 192.168.1.0/24,2001:db8::/48 --mesh-subnet 10.99.0.0/16 "
              "--introducer --force-relay --no-ipv6 --privacy --state-dir /var/lib/wgmesh-wg0 "
              "--peers-file /etc/wgmesh/peers.json --route-table 100 --route-protocol 151 "
              "--userspace /usr/bin/wireguard-go --log-level warn");
    EXPECT_EQ(single(unit, "StateDirectory="), "StateDirectory=wgmesh-wg0");
    EXPECT_EQ(single(unit, "ReadWritePaths="),
              "ReadWritePaths=/proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf");
}

TEST(UnitFile, AMetricsFileIsPassedOnAndItsDirectoryMadeWritable) {
    JoinOptions options = minimal();
    options.set_metrics_file("/var/lib/prometheus/node-exporter/wgmesh-wg0.prom");
    const std::string unit = generate_unit(options, "/usr/sbin/wgmesh");
    EXPECT_EQ(single(unit, "ExecStart="),
              "ExecStart=/usr/sbin/wgmesh join --interface wg0 --metrics-file "
              "/var/lib/prometheus/node-exporter/wgmesh-wg0.prom");
    EXPECT_NE(unit.find("\nReadWritePaths=/var/lib/prometheus/node-exporter\n"), std::string::npos)
        << unit;
    for (const char* bad : {"relative.prom", "/", "/var//x.prom", "/var/lib/a b.prom"}) {
        EXPECT_NE(rejection([&] { options.set_metrics_file(bad); }).find("--metrics-file"),
                  std::string::npos)
            << bad;
    }
    // Where the sandbox would hide it, the file would never reach node_exporter.
    options.set_metrics_file("/tmp/wgmesh.prom");
    EXPECT_NE(rejection([&] { generate_unit(options, "/usr/sbin/wgmesh"); }).find("--metrics-file"),
              std::string::npos);
}

TEST(UnitFile, ExecArgumentsAreEscapedForSystemd) {
    EXPECT_EQ(escape_exec_argument("plain-word"), "plain-word");
    EXPECT_EQ(escape_exec_argument("50%"), "50%%");
    EXPECT_EQ(escape_exec_argument("%n"), "%%n");
    EXPECT_EQ(escape_exec_argument("$HOME"), "$$HOME");
    EXPECT_EQ(escape_exec_argument("${X}"), "$${X}");
    EXPECT_EQ(escape_exec_argument("two words"), "\"two words\"");
    EXPECT_EQ(escape_exec_argument("it's"), "\"it's\"");
    EXPECT_EQ(escape_exec_argument("say \"hi\""), "\"say \\\"hi\\\"\"");
    EXPECT_EQ(escape_exec_argument("a\\b"), "\"a\\\\b\"");
    EXPECT_EQ(escape_exec_argument(";"), "\";\"");
    EXPECT_EQ(escape_exec_argument(""), "\"\"");
    EXPECT_EQ(escape_exec_argument("a\nb"), "\"a\\x0ab\"");
    EXPECT_EQ(escape_specifiers("100%"), "100%%");
    EXPECT_EQ(escape_specifiers("%i%%"), "%%i%%%%");
}

TEST(UnitFile, InterfaceNamesFollowTheKernelRules) {
    JoinOptions options;
    options.set_interface("wg-mesh_0.ab");
    EXPECT_EQ(options.interface, "wg-mesh_0.ab");
    options.set_interface(std::string(15, 'x'));
    EXPECT_NE(rejection([&] {
                  options.set_interface(std::string(16, 'x'));
              }).find("it has 16 bytes, the kernel allows 15"),
              std::string::npos);
    for (const std::string bad :
         {"", ".", "..", "wg/0", "wg:0", "wg 0", "wg\t0", "wg\n0", "wg\x7f", "w\xc3\xa9"}) {
        EXPECT_NE(rejection([&] { options.set_interface(bad); }).find("--interface"),
                  std::string::npos)
            << bad;
    }
}

// Every value that reaches the unit refuses what could break out of its place there.
TEST(UnitFile, InjectionAttemptsAreRejectedNamingTheFlag) {
    struct Case {
        const char* flag;
        void (JoinOptions::*setter)(std::string_view);
        std::string good;
    };
    const Case cases[] = {
        {"--interface", &JoinOptions::set_interface, "wg0"},
        {"--advertise-routes", &JoinOptions::set_advertise_routes, "10.1.0.0/16"},
        {"--mesh-subnet", &JoinOptions::set_mesh_subnet, "10.2.0.0/16"},
        {"--state-dir", &JoinOptions::set_state_dir, "/srv/wgmesh"},
        {"--peers-file", &JoinOptions::set_peers_file, "/etc/wgmesh/peers.json"},
        {"--userspace", &JoinOptions::set_userspace, "/usr/bin/wireguard-go"},
    };
    const std::string attacks[] = {
        "\nExecStartPre=/bin/sh -c id",
        "%n",
        "\"",
        "'",
        ";reboot",
        "$(id)",
        "${HOME}",
        "\\",
        "`id`",
        "\r",
    };
    for (const auto& c : cases) {
        JoinOptions options;
        (options.*c.setter)(c.good);
        for (const auto& attack : attacks) {
            for (const std::string& value : {c.good + attack, attack + c.good}) {
                const std::string message = rejection([&] { (options.*c.setter)(value); });
                EXPECT_EQ(message.rfind(c.flag, 0), 0u)
                    << c.flag << " accepted or misreported '" << value << "': " << message;
                EXPECT_EQ(message.find('\n'), std::string::npos) << message;
            }
        }
    }
}

TEST(UnitFile, FieldsSetDirectlyAreCheckedAgainWhenGenerating) {
    const auto with = [](auto change) {
        JoinOptions options = minimal();
        change(options);
        return rejection([&] { generate_unit(options, kBinary); });
    };
    EXPECT_NE(
        with([](JoinOptions& o) { o.interface = "wg0\nExecStartPre=/bin/sh"; }).find("--interface"),
        std::string::npos);
    EXPECT_NE(with([](JoinOptions& o) { o.state_dir = "/var/lib/%n"; }).find("--state-dir"),
              std::string::npos);
    EXPECT_NE(with([](JoinOptions& o) { o.peers_file = "/etc/a b"; }).find("--peers-file"),
              std::string::npos);
    EXPECT_NE(with([](JoinOptions& o) { o.userspace = "wg;go"; }).find("--userspace"),
              std::string::npos);
    EXPECT_NE(with([](JoinOptions& o) { o.log_level = "loud"; }).find("--log-level"),
              std::string::npos);
    EXPECT_NE(with([](JoinOptions& o) { o.route_protocol = 2; }).find("--route-protocol"),
              std::string::npos);
    EXPECT_NE(with([](JoinOptions& o) { o.interface.clear(); }).find("--interface"),
              std::string::npos);
    for (const char* binary : {"wgmesh", "/usr/bin/wg mesh", "/usr/bin/wgmesh\n", "/usr/%n",
                               "/usr/bin/../bin/wgmesh", "/usr/bin/$x"}) {
        EXPECT_NE(rejection([&] { generate_unit(minimal(), binary); }).find("--binary"),
                  std::string::npos)
            << binary;
    }
}

TEST(UnitFile, PathsTheSandboxHidesAreRefused) {
    JoinOptions options = minimal();
    options.set_state_dir("/home/alice/wgmesh");
    EXPECT_NE(rejection([&] { generate_unit(options, kBinary); }).find("--state-dir"),
              std::string::npos);
    options = minimal();
    options.set_peers_file("/tmp/peers.json");
    EXPECT_NE(rejection([&] { generate_unit(options, kBinary); }).find("PrivateTmp"),
              std::string::npos);
    EXPECT_NE(rejection([&] { generate_unit(minimal(), "/root/wgmesh"); }).find("--binary"),
              std::string::npos);
    // A prefix that only looks like a hidden tree is fine.
    options = minimal();
    options.set_peers_file("/homestead/peers.json");
    EXPECT_NO_THROW(generate_unit(options, "/tmpfs-bin/wgmesh"));
}

TEST(JoinOptions, NumbersAreCheckedAgainstTheirRanges) {
    JoinOptions options;
    for (const char* bad : {"0", "65536", "", "12a", "-1", "+5", " 1"}) {
        EXPECT_NE(rejection([&] { options.set_listen_port(bad); }).find("--listen-port"),
                  std::string::npos)
            << bad;
    }
    for (const char* bad : {"0", "255", "4294967296", "main"}) {
        EXPECT_NE(rejection([&] { options.set_route_table(bad); }).find("--route-table"),
                  std::string::npos)
            << bad;
    }
    for (const char* bad : {"0", "2", "4", "256"}) {
        EXPECT_NE(rejection([&] { options.set_route_protocol(bad); }).find("--route-protocol"),
                  std::string::npos)
            << bad;
    }
    options.set_route_table("4294967295");
    options.set_route_protocol("5");
    options.set_listen_port("1");
    EXPECT_EQ(options.route_table, 4294967295u);
    EXPECT_EQ(options.route_protocol, 5u);
    EXPECT_EQ(options.listen_port, 1);
}

TEST(JoinOptions, NetworksAreParsedNormalisedAndChecked) {
    JoinOptions options;
    options.set_advertise_routes("10.1.2.3/16,default,10.1.0.0/16");
    ASSERT_EQ(options.advertise_routes.size(), 2u);
    EXPECT_EQ(options.advertise_routes[0].to_string(), "10.1.0.0/16");
    EXPECT_EQ(options.advertise_routes[1].to_string(), "0.0.0.0/0");
    for (const char* bad :
         {"", "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/33", "10.0.0/8", "10.0.0.0/8 ,10.1.0.0/16"}) {
        EXPECT_NE(rejection([&] { options.set_advertise_routes(bad); }).find("--advertise-routes"),
                  std::string::npos)
            << bad;
    }
    options.set_mesh_subnet("10.99.0.0/30");
    for (const char* bad : {"10.99.0.0/31", "fd00::/64", "10.99.0.1", "default"}) {
        EXPECT_NE(rejection([&] { options.set_mesh_subnet(bad); }).find("--mesh-subnet"),
                  std::string::npos)
            << bad;
    }
}

TEST(JoinOptions, PathsMustBeAbsoluteAndNormalised) {
    JoinOptions options;
    for (const char* bad : {"", "relative/dir", "/", "/var//lib", "/var/lib/", "/var/./lib",
                            "/var/../etc", "/var/lib/wg mesh"}) {
        EXPECT_NE(rejection([&] { options.set_state_dir(bad); }).find("--state-dir"),
                  std::string::npos)
            << bad;
    }
    EXPECT_NE(rejection([&] { options.set_userspace("-x"); }).find("--userspace"),
              std::string::npos);
    EXPECT_NE(rejection([&] { options.set_userspace("bin/wireguard-go"); }).find("absolute"),
              std::string::npos);
    EXPECT_NE(rejection([&] { options.set_log_level("verbose"); }).find("--log-level"),
              std::string::npos);
}

TEST(SecretEnv, EscapesWhatSystemdWouldInterpret) {
    EXPECT_EQ(format_secret_env("0123456789abcdef")
                  .substr(format_secret_env("0123456789abcdef").find("WGMESH_SECRET=")),
              "WGMESH_SECRET=\"0123456789abcdef\"\n");
    const std::string env = format_secret_env("a\\b\"c`d$e'f %g h");
    EXPECT_NE(env.find("WGMESH_SECRET=\"a\\\\b\\\"c\\`d\\$e'f %g h\"\n"), std::string::npos) << env;
}

TEST(SecretEnv, RefusesWhatCannotBeWrittenWithoutTellingTheSecret) {
    const std::string base = "correct-horse-battery";
    for (const std::string& bad :
         {base + "\nX=1", base + "\r", base + std::string(1, '\0'), base + "\x7f", base + "\xff",
          base + "\xc3", base + "\xef\xbb\xbf", base + "\xed\xa0\x80", base + "\xc0\xaf",
          std::string()}) {
        const std::string message = rejection([&] { format_secret_env(bad); });
        EXPECT_FALSE(message.empty()) << bad;
        EXPECT_EQ(message.find(base), std::string::npos) << message;
    }
    EXPECT_NO_THROW(format_secret_env(base + " \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91"));
}

// The lines that may differ between the installed unit and the packaged template: comments,
// and what names the interface, runs the daemon and holds the secret.
std::vector<std::string> shared_lines(const std::string& unit) {
    std::vector<std::string> shared;
    for (const auto& line : lines_of(unit)) {
        if (line.rfind('#', 0) != 0 && line.rfind("Description=", 0) != 0 &&
            line.rfind("ExecStart=", 0) != 0 && line.rfind("EnvironmentFile=", 0) != 0) {
            shared.push_back(line);
        }
    }
    return shared;
}

TEST(TemplateUnit, HasTheInstalledUnitsSandboxLineForLine) {
    EXPECT_EQ(shared_lines(generate_template_unit("/usr/sbin/wgmesh")),
              shared_lines(generate_unit(minimal(), kBinary)));
}

TEST(TemplateUnit, InstanceIsTheInterfaceAndTheSecretComesFromItsEnvFile) {
    const std::string unit = generate_template_unit("/usr/sbin/wgmesh");
    EXPECT_EQ(single(unit, "ExecStart="),
              "ExecStart=/usr/sbin/wgmesh join --interface %i $WGMESH_ARGS");
    EXPECT_EQ(single(unit, "EnvironmentFile="), "EnvironmentFile=/etc/wgmesh/%i.env");
    EXPECT_EQ(single(unit, "Description="), "Description=wgmesh WireGuard mesh node on %i");
    EXPECT_EQ(single(unit, "StateDirectory="), "StateDirectory=wgmesh");
    // The secret stays in the 0600 env file: no Environment= line may carry it.
    EXPECT_TRUE(lines_starting(unit, "Environment=").empty());
}

TEST(TemplateUnit, RefusesABinaryTheSandboxHidesOrARelativeOne) {
    EXPECT_NE(rejection([] { generate_template_unit("/home/me/wgmesh"); }).find("hidden"),
              std::string::npos);
    EXPECT_FALSE(rejection([] { generate_template_unit("wgmesh"); }).empty());
}

}  // namespace
}  // namespace wgmesh::service
