#include "netlink/route_table.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include "netlink/address.h"
#include "netlink/interface_name.h"
#include "netlink/link.h"
#include "netlink/unique_fd.h"

namespace wgmesh::netlink {

namespace {

constexpr std::uint8_t kLowestOwnProtocol = RTPROT_STATIC + 1;
// IP6_RT_PRIO_ADDRCONF: the metric of the kernel's IPv6 prefix routes.
constexpr std::uint32_t kIpv6PrefixRouteMetric = 256;

// The fields of one RTM_NEWROUTE that decide ownership and the route's key.
struct ParsedRoute {
    std::uint32_t table = 0;
    int oif = 0;
    bool multipath = false;
    const void* destination = nullptr;
    std::size_t destination_length = 0;
    const void* gateway = nullptr;
    std::size_t gateway_length = 0;
};

ParsedRoute parse_route_attributes(const nlmsghdr& message, const rtmsg& header) {
    ParsedRoute parsed;
    parsed.table = header.rtm_table;
    const auto* start =
        static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload_offset(&message, sizeof(rtmsg)));
    int remaining = static_cast<int>(message.nlmsg_len) -
                    static_cast<int>(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg)));
    for (auto* a = reinterpret_cast<const nlattr*>(start); mnl_attr_ok(a, remaining);
         remaining -= static_cast<int>(NLA_ALIGN(a->nla_len)), a = mnl_attr_next(a)) {
        const std::size_t length = mnl_attr_get_payload_len(a);
        switch (mnl_attr_get_type(a)) {
            case RTA_TABLE:
                if (length == sizeof(std::uint32_t)) {
                    parsed.table = mnl_attr_get_u32(a);
                }
                break;
            case RTA_OIF:
                if (length == sizeof(std::uint32_t)) {
                    parsed.oif = static_cast<int>(mnl_attr_get_u32(a));
                }
                break;
            case RTA_DST:
                parsed.destination = mnl_attr_get_payload(a);
                parsed.destination_length = length;
                break;
            case RTA_GATEWAY:
                parsed.gateway = mnl_attr_get_payload(a);
                parsed.gateway_length = length;
                break;
            case RTA_MULTIPATH:
            case RTA_VIA:
            case RTA_NH_ID:
                parsed.multipath = true;  // never one of ours: we add plain unicast routes
                break;
            default:
                break;
        }
    }
    return parsed;
}

std::string failure_text(const NetlinkStatus& status) {
    return status.describe();
}

// rtm_table holds 8 bits; larger ids travel in RTA_TABLE with rtm_table unspecified.
std::uint8_t header_table(std::uint32_t table) {
    return table < 256 ? static_cast<std::uint8_t>(table) : std::uint8_t{RT_TABLE_UNSPEC};
}

bool is_gateway_route(const Route& route) {
    return !route.gateway.is_unspecified();
}

// Whether `interface` is a point-to-point device without link-layer addresses (WireGuard,
// TUN): there every gateway is on-link by definition, because nothing is resolved and the
// device itself picks the peer (WireGuard by AllowedIPs). Asked per sync, in the calling
// thread's namespace, because the interface may have been recreated.
bool is_point_to_point(const std::string& interface) {
    const UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot open an inet socket");
    }
    ifreq request{};
    interface.copy(request.ifr_name, sizeof request.ifr_name - 1);
    if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) {
        throw std::system_error(errno, std::generic_category(),
                                "cannot read the flags of interface '" + interface + "'");
    }
    return (request.ifr_flags & IFF_POINTOPOINT) != 0;
}

}  // namespace

std::optional<Route> parse_owned_route(const nlmsghdr& message, std::uint32_t table,
                                       std::uint8_t protocol, int ifindex) {
    if (message.nlmsg_type != RTM_NEWROUTE || message.nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) {
        return std::nullopt;
    }
    const auto& header = *static_cast<const rtmsg*>(mnl_nlmsg_get_payload(&message));
    if (header.rtm_protocol != protocol || header.rtm_type != RTN_UNICAST ||
        (header.rtm_family != AF_INET && header.rtm_family != AF_INET6)) {
        return std::nullopt;
    }
    const ParsedRoute parsed = parse_route_attributes(message, header);
    if (parsed.table != table || parsed.oif != ifindex || parsed.multipath) {
        return std::nullopt;
    }
    const Family family = header.rtm_family == AF_INET ? Family::kIpv4 : Family::kIpv6;
    const IpAddress any = family == Family::kIpv4 ? IpAddress() : IpAddress::v6(in6addr_any);
    if (header.rtm_dst_len > any.size() * 8) {
        return std::nullopt;
    }
    IpAddress destination = any;
    if (parsed.destination != nullptr) {
        auto address = IpAddress::from_bytes(family, parsed.destination, parsed.destination_length);
        if (!address) {
            return std::nullopt;
        }
        destination = *address;
    }
    IpAddress gateway = any;
    if (parsed.gateway != nullptr) {
        auto address = IpAddress::from_bytes(family, parsed.gateway, parsed.gateway_length);
        if (!address) {
            return std::nullopt;
        }
        gateway = *address;
    }
    return Route{Prefix(destination, header.rtm_dst_len), gateway};
}

void validate_route_owner(const RouteOwner& owner) {
    require_valid_interface_name(owner.interface);
    if (owner.table == RT_TABLE_UNSPEC || owner.table == RT_TABLE_LOCAL) {
        throw std::invalid_argument("route table " + std::to_string(owner.table) +
                                    " cannot be used (0 is unspecified, 255 is local)");
    }
    if (owner.protocol < kLowestOwnProtocol) {
        throw std::invalid_argument("route protocol " + std::to_string(owner.protocol) +
                                    " is reserved for the kernel and administrators; use " +
                                    std::to_string(kLowestOwnProtocol) + "-255 (default " +
                                    std::to_string(kDefaultRouteProtocol) + ")");
    }
}

KernelRouteTable::KernelRouteTable(RouteOwner owner)
    : owner_(std::move(owner)), socket_(NETLINK_ROUTE) {
    validate_route_owner(owner_);
}

KernelRouteTable::KernelRouteTable(std::string interface, std::uint32_t table,
                                   std::uint8_t protocol)
    : KernelRouteTable(RouteOwner{std::move(interface), table, protocol}) {}

void KernelRouteTable::dump_family(int family, int ifindex, std::vector<Route>& routes) {
    dump_routes(family, ifindex, owner_.table, owner_.protocol, routes);
}

void KernelRouteTable::dump_routes(int family, int ifindex, std::uint32_t table,
                                   std::uint8_t protocol, std::vector<Route>& routes) {
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* request = mnl_nlmsg_put_header(buffer.data());
    request->nlmsg_type = RTM_GETROUTE;
    auto* header = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(request, sizeof(rtmsg)));
    header->rtm_family = static_cast<std::uint8_t>(family);
    if (socket_.strict_checking()) {
        // Linux >= 4.20 applies these in the kernel (ip_valid_fib_dump_req), so a table of
        // a million foreign routes costs us only ours.
        header->rtm_protocol = protocol;
        header->rtm_table = header_table(table);
        if (table >= 256) {
            mnl_attr_put_u32(request, RTA_TABLE, table);
        }
        mnl_attr_put_u32(request, RTA_OIF, static_cast<std::uint32_t>(ifindex));
    }
    const std::size_t before = routes.size();
    const auto on_message = [&](const nlmsghdr& message) {
        if (auto route = parse_owned_route(message, table, protocol, ifindex)) {
            routes.push_back(*route);
        }
    };
    try {
        socket_.dump(*request, on_message, [&] { routes.resize(before); });
    } catch (const std::system_error& e) {
        // IPv4 answers ENOENT when the table has never held a route: nothing of ours in it.
        if (e.code().value() != ENOENT) {
            throw std::system_error(e.code(), "cannot read routes of table " +
                                                  std::to_string(table) + " on " +
                                                  owner_.interface + ": " + e.what());
        }
        routes.resize(before);
    }
}

std::vector<Route> KernelRouteTable::dump_owned() {
    const int ifindex = link_index(socket_, owner_.interface);
    std::vector<Route> routes;
    dump_family(AF_INET, ifindex, routes);
    dump_family(AF_INET6, ifindex, routes);
    return routes;
}

void KernelRouteTable::add_message(MessageBatch& batch, std::uint16_t type, std::uint16_t flags,
                                   const Route& route, int ifindex, bool onlink) const {
    void* extra = nullptr;
    nlmsghdr* message = batch.add(type, flags, sizeof(rtmsg), &extra);
    auto* header = static_cast<rtmsg*>(extra);
    const auto& destination = route.destination.address();
    header->rtm_family = static_cast<std::uint8_t>(destination.family_af());
    header->rtm_dst_len = static_cast<std::uint8_t>(route.destination.length());
    header->rtm_protocol = owner_.protocol;
    header->rtm_type = RTN_UNICAST;
    header->rtm_table = header_table(owner_.table);
    if (type == RTM_DELROUTE) {
        header->rtm_scope = RT_SCOPE_NOWHERE;  // "any scope" for a delete
    } else {
        header->rtm_scope = is_gateway_route(route) ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
        if (onlink && is_gateway_route(route)) {
            // The kernel then does not look for a route to the gateway, so our routes do
            // not depend on the interface's prefix route, which anyone can delete.
            header->rtm_flags |= RTNH_F_ONLINK;
        }
    }
    const auto length = static_cast<std::uint16_t>(destination.size());
    mnl_attr_put(message, RTA_DST, length, destination.data());
    if (is_gateway_route(route)) {
        mnl_attr_put(message, RTA_GATEWAY, length, route.gateway.data());
    }
    mnl_attr_put_u32(message, RTA_OIF, static_cast<std::uint32_t>(ifindex));
    if (owner_.table >= 256) {
        mnl_attr_put_u32(message, RTA_TABLE, owner_.table);
    }
}

RouteSyncReport KernelRouteTable::sync(const std::vector<Route>& desired) {
    RouteSyncReport report;
    last_sync_messages_ = 0;
    // A gateway of another family is not a route the kernel can hold; say so per route.
    std::vector<Route> valid;
    valid.reserve(desired.size());
    for (const Route& route : desired) {
        if (is_gateway_route(route) && route.gateway.family() != route.destination.family()) {
            report.failures.push_back(
                {route, false, EAFNOSUPPORT, "gateway and destination are of different families"});
        } else {
            valid.push_back(route);
        }
    }
    const int ifindex = link_index(socket_, owner_.interface);
    const bool onlink = is_point_to_point(owner_.interface);
    std::vector<Route> current;
    dump_family(AF_INET, ifindex, current);
    dump_family(AF_INET6, ifindex, current);
    RouteDiff diff = diff_routes(std::move(valid), std::move(current));
    if (diff.empty()) {
        return report;
    }

    // Grouped by gateway: the kernel hashes IPv4 route nexthops (fib_info) without the
    // gateway, so routes through many gateways share one hash chain, and each insert walks
    // it until its gateway's entry, which a new entry joins at the head. Consecutive routes
    // through one gateway find it first; interleaved ones walk the whole chain (on a 6.x
    // kernel with 1000 gateways, about half the cost of a full sync).
    const auto by_gateway = [](const Route& a, const Route& b) {
        return std::tie(a.gateway, a.destination) < std::tie(b.gateway, b.destination);
    };
    std::sort(diff.add.begin(), diff.add.end(), by_gateway);
    std::sort(diff.change.begin(), diff.change.end(), by_gateway);

    MessageBatch batch;
    for (const Route& route : diff.add) {
        // EXCL: a route to this destination that is not ours must not be replaced.
        add_message(batch, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, route, ifindex, onlink);
    }
    for (const Route& route : diff.change) {
        add_message(batch, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route, ifindex, onlink);
    }
    last_sync_messages_ += batch.size();
    std::vector<Prefix> failed_changes;
    std::size_t refused = 0;
    for (BatchFailure& failure : socket_.send_batch(batch)) {
        const bool is_change = failure.index >= diff.add.size();
        const Route& route =
            is_change ? diff.change[failure.index - diff.add.size()] : diff.add[failure.index];
        if (is_change && failure.status.error == EEXIST) {
            continue;
        }
        ++refused;
        if (is_change) {
            failed_changes.push_back(route.destination);
        }
        std::string message = failure_text(failure.status);
        if (!is_change && failure.status.error == EEXIST) {
            message += " (a route to this destination that wgmesh does not own is in table " +
                       std::to_string(owner_.table) + "; left alone)";
        }
        report.failures.push_back({route, false, failure.status.error, std::move(message)});
    }
    report.added = batch.size() - refused;

    // Keep the old route of a destination whose new gateway was refused: a working old
    // route beats none, and the next sync retries.
    std::sort(failed_changes.begin(), failed_changes.end());
    batch.clear();
    std::vector<const Route*> removing;
    removing.reserve(diff.remove.size());
    for (const Route& route : diff.remove) {
        if (!std::binary_search(failed_changes.begin(), failed_changes.end(), route.destination)) {
            add_message(batch, RTM_DELROUTE, 0, route, ifindex, onlink);
            removing.push_back(&route);
        }
    }
    last_sync_messages_ += batch.size();
    refused = 0;
    for (BatchFailure& failure : socket_.send_batch(batch)) {
        if (failure.status.error == ESRCH || failure.status.error == ENODEV) {
            continue;  // already gone
        }
        ++refused;
        report.failures.push_back(
            {*removing[failure.index], true, failure.status.error, failure_text(failure.status)});
    }
    report.removed = batch.size() - refused;
    return report;
}

std::vector<std::string> KernelRouteTable::restore_prefix_routes(
    const std::vector<Prefix>& networks) {
    const int ifindex = link_index(socket_, owner_.interface);
    std::vector<Route> present;
    dump_routes(AF_INET, ifindex, RT_TABLE_MAIN, RTPROT_KERNEL, present);
    dump_routes(AF_INET6, ifindex, RT_TABLE_MAIN, RTPROT_KERNEL, present);
    std::vector<std::string> errors;
    MessageBatch batch;
    std::vector<InterfaceAddress> restoring;
    for (const InterfaceAddress& address : list_addresses(socket_, ifindex)) {
        const Prefix network(address.address, address.prefix_length);
        const bool missing = std::none_of(present.begin(), present.end(), [&](const Route& route) {
            return route.destination == network && !is_gateway_route(route);
        });
        if (!missing || std::find(networks.begin(), networks.end(), network) == networks.end()) {
            continue;
        }
        // The route exactly as the kernel makes it for the address (fib_add_ifaddr,
        // addrconf_prefix_route), so that deleting the address still deletes it.
        void* extra = nullptr;
        nlmsghdr* message =
            batch.add(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(rtmsg), &extra);
        auto* header = static_cast<rtmsg*>(extra);
        const auto& destination = network.address();
        const auto length = static_cast<std::uint16_t>(destination.size());
        header->rtm_family = static_cast<std::uint8_t>(destination.family_af());
        header->rtm_dst_len = static_cast<std::uint8_t>(network.length());
        header->rtm_protocol = RTPROT_KERNEL;
        header->rtm_type = RTN_UNICAST;
        header->rtm_table = RT_TABLE_MAIN;
        mnl_attr_put(message, RTA_DST, length, destination.data());
        mnl_attr_put_u32(message, RTA_OIF, static_cast<std::uint32_t>(ifindex));
        if (address.address.is_v4()) {
            header->rtm_scope = RT_SCOPE_LINK;
            mnl_attr_put(message, RTA_PREFSRC, length, address.address.data());
        } else {
            header->rtm_scope = RT_SCOPE_UNIVERSE;
            mnl_attr_put_u32(message, RTA_PRIORITY, kIpv6PrefixRouteMetric);
        }
        restoring.push_back(address);
    }
    for (const BatchFailure& failure : socket_.send_batch(batch)) {
        const InterfaceAddress& address = restoring[failure.index];
        errors.push_back("restoring the prefix route of " + address.to_string() + " on " +
                         owner_.interface + ": " + failure_text(failure.status));
    }
    last_restored_prefix_routes_ = restoring.size() - errors.size();
    return errors;
}

}  // namespace wgmesh::netlink
