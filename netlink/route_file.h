// The route file of `wgmesh routes sync --from FILE`: one `NETWORK GATEWAY` per line,
// `#` starts a comment, blank lines are ignored. Parsed completely before anything is
// applied, so one bad line means nothing changes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/route.h"

namespace wgmesh::netlink {

struct RouteFileError {
    std::size_t line = 0;  // 1-based
    std::string message;
};

struct RouteFile {
    std::vector<Route> routes;  // in file order; exact repeats dropped
    std::vector<RouteFileError> errors;
};

// Rejected lines: not exactly two fields, a network or gateway that does not parse, a
// gateway of the other family or unspecified (0.0.0.0, ::), and a network already given
// on an earlier line with another gateway (the kernel keeps one route per network).
RouteFile parse_route_file(std::string_view text);

}  // namespace wgmesh::netlink
