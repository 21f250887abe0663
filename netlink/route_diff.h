// The pure part of route sync: what to change so that the owned routes become the desired
// ones. No I/O; the kernel side is route_table.h.
#pragma once

#include <vector>

#include "netlink/route.h"

namespace wgmesh::netlink {

struct RouteDiff {
    // Destinations we do not route yet: created, never replacing a route that is not ours.
    std::vector<Route> add;
    // Destinations we already route through another gateway: replaced in place, so the
    // destination is never without a route (add-before-delete).
    std::vector<Route> change;
    // Owned routes that are not desired, including the old gateway of every `change` (the
    // in-place replace usually removed it already; deleting it again is harmless).
    std::vector<Route> remove;

    bool empty() const { return add.empty() && change.empty() && remove.empty(); }
};

// The desired set as the kernel can hold it: sorted, exact duplicates dropped, and a
// destination listed with several gateways kept once, with the lowest gateway (the kernel
// keeps one route per destination, and the choice must not depend on input order).
std::vector<Route> collapse_routes(std::vector<Route> routes);

// Full-key diff (destination, gateway) of `desired` against `current` (the owned routes
// read from the kernel). Every list comes out sorted; equal sets give an empty diff.
RouteDiff diff_routes(std::vector<Route> desired, std::vector<Route> current);

}  // namespace wgmesh::netlink
