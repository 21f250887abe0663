// The interface through which mesh/ changes an interface's own addresses.
#pragma once

#include <optional>
#include <vector>

#include "netlink/ip_address.h"

namespace wgmesh::netlink {

class AddressSet {
  public:
    virtual ~AddressSet() = default;
    virtual std::vector<InterfaceAddress> list() = 0;
    // Adds `replacement` before removing `previous` (when given and different), so the
    // interface never has no address and the kernel keeps the routes through it.
    virtual void replace(const std::optional<InterfaceAddress>& previous,
                         const InterfaceAddress& replacement) = 0;
};

}  // namespace wgmesh::netlink
