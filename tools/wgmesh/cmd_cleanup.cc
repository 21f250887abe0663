// `wgmesh cleanup`: removes what `wgmesh join` put in place for one interface and nothing
// else: our routes (by interface, table and protocol), our nft table and tagged rules, the
// addresses recorded in the interface state file, and the interface when wgmesh created it.
#include <iostream>
#include <string>
#include <vector>

#include "mesh/control_server.h"
#include "netlink/address.h"
#include "netlink/atomic_file.h"
#include "netlink/link.h"
#include "netlink/nft_forwarding.h"
#include "netlink/route_table.h"
#include "netlink/socket.h"
#include "service/join_options.h"
#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/daemon/interface_state.h"
#include "tools/wgmesh/daemon/plumbing.h"
#include "tools/wgmesh/flags.h"
#include "wg/device_factory.h"

namespace wgmesh::cli {
namespace {

using namespace std::chrono_literals;

const std::vector<FlagSpec>& specs() {
    static const std::vector<FlagSpec> list = {
        {"interface", "IF", "the mesh interface (required)"},
        {"state-dir", "DIR", "state directory of the daemon (default /var/lib/wgmesh)"},
        {"route-table", "N", "routing table the daemon used (default 254, main)"},
        {"route-protocol", "N", "rtm_protocol the daemon used (default 150)"},
        {"socket", "PATH", "the daemon's control socket (default /run/wgmesh/<IF>.sock)"},
    };
    return list;
}

}  // namespace

int run_cleanup(Args args) {
    const Flags flags(args, specs());
    if (flags.help_requested()) {
        std::cout << "usage: wgmesh cleanup --interface IF [flags]\n\n"
                     "Removes wgmesh's routes, forwarding rules and addresses on IF, and IF\n"
                     "itself when wgmesh created it. Foreign routes, rules and addresses stay.\n"
                     "Stop the daemon first.\n\nflags:\n"
                  << describe_flags(specs());
        return 0;
    }
    if (!flags.positional().empty()) {
        throw UsageError("unexpected argument '" + flags.positional().front() + "'");
    }
    const auto interface = flags.value("interface");
    if (!interface) {
        throw UsageError("--interface IF is required");
    }
    service::JoinOptions options;  // its setters validate like `join` does
    try {
        options.set_interface(*interface);
        if (const auto v = flags.value("state-dir")) {
            options.set_state_dir(*v);
        }
        if (const auto v = flags.value("route-table")) {
            options.set_route_table(*v);
        }
        if (const auto v = flags.value("route-protocol")) {
            options.set_route_protocol(*v);
        }
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    const std::filesystem::path socket =
        flags.value("socket").value_or(mesh::default_control_socket(options.interface));
    if (daemon_answers(socket)) {
        std::cerr << "wgmesh cleanup: a daemon is running for "
                  << options.interface << " (it answers on " << socket.string()
                  << "); stop it first (systemctl stop wgmesh, or SIGTERM)\n";
        return 1;
    }

    int status = 0;
    const auto state_path = interface_state_path(options.state_dir, options.interface);
    const auto state = read_interface_state(state_path);
    netlink::NetlinkSocket nl;
    const auto link = netlink::find_link(nl, options.interface);

    if (link) {
        netlink::KernelRouteTable routes(options.interface, options.route_table,
                                         static_cast<std::uint8_t>(options.route_protocol));
        const auto report = routes.flush();
        std::cout << "removed " << report.removed << " routes (protocol " << options.route_protocol
                  << ", table " << options.route_table << ")\n";
        for (const auto& failure : report.failures) {
            std::cerr << "wgmesh cleanup: route " << failure.route.to_string() << ": "
                      << failure.message << "\n";
            status = 1;
        }
    }
    try {
        netlink::NftForwarding forwarding(options.interface);
        forwarding.remove();
        std::cout << "removed the forwarding rules of " << options.interface << "\n";
    } catch (const std::exception& e) {
        std::cerr << "wgmesh cleanup: forwarding rules: " << e.what() << "\n";
        status = 1;
    }
    if (link && state) {
        for (const auto& address : state->addresses) {
            if (netlink::delete_address(nl, link->index, address)) {
                std::cout << "removed address " << address.to_string() << "\n";
            }
        }
    } else if (link) {
        std::cout << "no interface state in " << state_path.string()
                  << ": addresses left in place\n";
    }
    if (link && state && state->created) {
        wg::remove_interface(options.interface);
        std::cout << "removed interface " << options.interface << " (created by wgmesh)\n";
    } else if (link) {
        std::cout << "interface "
                  << options.interface << " left in place (wgmesh did not create it)\n";
    } else if (state && state->created) {
        // The link is gone with its killed wireguard-go, whose socket file may be left.
        wg::remove_interface(options.interface);
    }
    if (status == 0) {
        netlink::remove_file_if_exists(state_path);
    }
    return status;
}

}  // namespace wgmesh::cli
