#include "netlink/route_diff.h"

#include <algorithm>

namespace wgmesh::netlink {

std::vector<Route> collapse_routes(std::vector<Route> routes) {
    std::sort(routes.begin(), routes.end());
    // Sorted by (destination, gateway): the first of each destination has the lowest gateway.
    const auto last = std::unique(routes.begin(), routes.end(), [](const Route& a, const Route& b) {
        return a.destination == b.destination;
    });
    routes.erase(last, routes.end());
    return routes;
}

RouteDiff diff_routes(std::vector<Route> desired, std::vector<Route> current) {
    desired = collapse_routes(std::move(desired));
    std::sort(current.begin(), current.end());
    current.erase(std::unique(current.begin(), current.end()), current.end());

    RouteDiff diff;
    auto want = desired.begin();
    auto have = current.begin();
    while (want != desired.end() || have != current.end()) {
        // The next destination in either list, and each list's routes to it.
        const Prefix& destination =
            (have == current.end() ||
             (want != desired.end() && want->destination < have->destination))
                ? want->destination
                : have->destination;
        const auto have_end = std::find_if(have, current.end(), [&](const Route& route) {
            return route.destination != destination;
        });
        const bool wanted = want != desired.end() && want->destination == destination;
        if (wanted) {
            const bool in_place = std::find(have, have_end, *want) != have_end;
            if (!in_place) {
                (have == have_end ? diff.add : diff.change).push_back(*want);
            }
        }
        for (auto it = have; it != have_end; ++it) {
            if (!wanted || it->gateway != want->gateway) {
                diff.remove.push_back(*it);
            }
        }
        if (wanted) {
            ++want;
        }
        have = have_end;
    }
    return diff;
}

}  // namespace wgmesh::netlink
