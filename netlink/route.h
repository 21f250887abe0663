// A route we own, and the interface through which mesh/ changes the routing table.
#pragma once

#include <compare>
#include <string>
#include <vector>

#include "netlink/ip_address.h"

namespace wgmesh::netlink {

// The kernel key of an owned route, minus what is fixed per RouteTable (interface, table,
// protocol): destination network and gateway.
struct Route {
    Prefix destination;
    IpAddress gateway;

    std::string to_string() const {
        return destination.to_string() + " via " + gateway.to_string();
    }
    auto operator<=>(const Route&) const = default;
    bool operator==(const Route&) const = default;
};

struct RouteFailure {
    Route route;
    bool removing = false;  // false: adding or replacing
    int error = 0;          // positive errno
    std::string message;    // strerror plus the kernel's extended-ack text when it sent one
};

struct RouteSyncReport {
    std::size_t added = 0;
    std::size_t removed = 0;
    std::vector<RouteFailure> failures;
};

// The routes one owner (interface, table, protocol) keeps in the kernel.
class RouteTable {
  public:
    virtual ~RouteTable() = default;
    // Makes the owned routes exactly `desired`; foreign routes are never touched.
    // Per-route failures are reported, not thrown; throws only when the table cannot be
    // read or written at all.
    virtual RouteSyncReport sync(const std::vector<Route>& desired) = 0;
    // Puts back the kernel's prefix route of the interface's addresses in `networks` when
    // someone deleted it; returns one message per route that could not be restored. Tables
    // without such routes (test doubles) have nothing to do.
    virtual std::vector<std::string> restore_prefix_routes(const std::vector<Prefix>& networks) {
        (void)networks;
        return {};
    }
};

}  // namespace wgmesh::netlink
