// The kernel side of route sync (SPEC 9): the routes one owner keeps, where the owner is
// (interface, routing table, rtm_protocol). Only routes carrying all three are read,
// changed or removed; every other route in the system is foreign and never touched.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netlink/route.h"
#include "netlink/route_diff.h"
#include "netlink/socket.h"

namespace wgmesh::netlink {

// Named "wgmesh" in /etc/iproute2/rt_protos.d/wgmesh.conf by the installer.
inline constexpr std::uint8_t kDefaultRouteProtocol = 150;
inline constexpr std::uint32_t kDefaultRouteTable = 254;  // main

struct RouteOwner {
    std::string interface;
    std::uint32_t table = kDefaultRouteTable;
    std::uint8_t protocol = kDefaultRouteProtocol;
};

// Throws std::invalid_argument: table 0 (unspecified) and 255 (local) are refused, and so
// are protocols 0-4 (unspec, redirect, kernel, boot, static), which would make kernel or
// administrator routes look like ours.
void validate_route_owner(const RouteOwner& owner);

// One RTM_NEWROUTE message of a dump: the route when it is a plain unicast route with
// `protocol`, in `table`, through `ifindex`; nullopt for anything else (foreign, multipath,
// malformed). `message.nlmsg_len` must lie within the buffer it came in.
std::optional<Route> parse_owned_route(const nlmsghdr& message, std::uint32_t table,
                                       std::uint8_t protocol, int ifindex);

class KernelRouteTable : public RouteTable {
  public:
    // Validates the owner; the interface is looked up on every call, so it may come and go.
    explicit KernelRouteTable(RouteOwner owner);
    KernelRouteTable(std::string interface, std::uint32_t table, std::uint8_t protocol);

    // The owned routes, IPv4 then IPv6: one filtered RTM_GETROUTE dump per family (filtered
    // in the kernel under strict checking, always re-checked here). Throws std::system_error
    // when the interface does not exist or the dump fails.
    std::vector<Route> dump_owned();

    // Dump, diff, then apply: first all adds and gateway changes in one batch, then all
    // deletes in another. Errno policy: EEXIST on a replace and ESRCH/ENODEV on a delete
    // are success; EEXIST on a new destination means a foreign route holds it (reported,
    // not replaced); every other error is reported with the kernel's text and the rest go
    // on. A gateway change that fails keeps the old route. A desired set that is already in
    // place sends nothing but the dumps. On a point-to-point interface (IFF_POINTOPOINT:
    // WireGuard, TUN) gateway routes are sent with RTNH_F_ONLINK, so they do not depend on
    // the interface's prefix route; the flag is not part of the key (docs/routes.md).
    RouteSyncReport sync(const std::vector<Route>& desired) override;
    // Puts back the kernel's prefix route (main table, proto kernel, through the interface)
    // of every interface address whose network is one of `networks`, when someone deleted
    // it (`ip route flush dev IF`): the route exactly as the kernel made it for the address,
    // so deleting the address still deletes it. Nothing is sent when they are all in place.
    // Returns one message per route the kernel refused; throws std::system_error when the
    // interface does not exist or cannot be read.
    std::vector<std::string> restore_prefix_routes(const std::vector<Prefix>& networks) override;
    // Prefix routes the last restore_prefix_routes() put back.
    std::size_t last_restored_prefix_routes() const { return last_restored_prefix_routes_; }

    // Removes every owned route (sync to the empty set).
    RouteSyncReport flush() { return sync({}); }

    // Change messages (adds, replaces, deletes) the last sync() sent.
    std::size_t last_sync_messages() const { return last_sync_messages_; }
    const RouteOwner& owner() const { return owner_; }

  private:
    void dump_family(int family, int ifindex, std::vector<Route>& routes);
    void dump_routes(int family, int ifindex, std::uint32_t table, std::uint8_t protocol,
                     std::vector<Route>& routes);
    void add_message(MessageBatch& batch, std::uint16_t type, std::uint16_t flags,
                     const Route& route, int ifindex, bool onlink) const;

    RouteOwner owner_;
    NetlinkSocket socket_;
    std::size_t last_sync_messages_ = 0;
    std::size_t last_restored_prefix_routes_ = 0;
};

}  // namespace wgmesh::netlink
