// Addresses of one interface over rtnetlink, IPv4 and IPv6.
//
// Prefix routes: an address is added with its own prefix length and the kernel's prefix
// route is kept on purpose. The mesh address is 10.x.y.z/16 on the WireGuard interface, and
// the /16 route through that interface is exactly the route the mesh subnet needs; per-peer
// routes for other networks go via mesh IPs inside it. Callers that want no prefix route
// pass a /32 (/128) address or `AddressOptions::no_prefix_route` (IFA_F_NOPREFIXROUTE).
#pragma once

#include <string>
#include <vector>

#include "netlink/address_set.h"
#include "netlink/ip_address.h"
#include "netlink/socket.h"

namespace wgmesh::netlink {

struct AddressOptions {
    bool no_prefix_route = false;  // IFA_F_NOPREFIXROUTE
};

// Addresses of the interface with index `ifindex`, IPv4 first, in kernel order. IPv6
// link-local addresses (fe80::/10) are left out: the kernel makes them, nobody here owns them.
std::vector<InterfaceAddress> list_addresses(NetlinkSocket& socket, int ifindex);

// Adds (or refreshes) the address. IPv6 addresses skip duplicate address detection, so they
// are usable at once. Throws std::system_error naming the address and the kernel's text.
void add_address(NetlinkSocket& socket, int ifindex, const InterfaceAddress& address,
                 const AddressOptions& options = {});
// Returns false when the address was not there.
bool delete_address(NetlinkSocket& socket, int ifindex, const InterfaceAddress& address);

// The AddressSet of one interface, looked up by name on every call (the interface may be
// re-created between calls).
class KernelAddressSet : public AddressSet {
  public:
    // proc_sys: where promote_secondaries is written (see replace()).
    explicit KernelAddressSet(std::string interface, std::string proc_sys = "/proc/sys");

    std::vector<InterfaceAddress> list() override;
    // Adds `replacement`, then deletes `previous`. When both are IPv4 addresses in the same
    // subnet, the old one is usually the primary and the kernel would delete the new
    // (secondary) one with it, so promote_secondaries is switched on for the interface first.
    void replace(const std::optional<InterfaceAddress>& previous,
                 const InterfaceAddress& replacement) override;

  private:
    std::string interface_;
    std::string proc_sys_;
    NetlinkSocket socket_;
};

}  // namespace wgmesh::netlink
