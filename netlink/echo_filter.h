// Drops the kernel's echoes of our own requests on a notification socket before they are
// queued. Every route the daemon adds or deletes comes back as a notification on its own
// monitor socket; a 10k-route repair sent 10k of them, which filled the monitor's receive
// buffer (ENOBUFS: "notifications were lost", a needless full resync) and cost a read each.
// A classic BPF socket filter runs before the kernel charges the receive buffer, so an echo
// it drops costs nothing. The userspace check (is_own_port_id) stays: a socket opened after
// the filter was last set is only recognised there.
#pragma once

#include <cstdint>
#include <span>

namespace wgmesh::netlink {

// Most port ids one filter holds (the BPF jump offsets are 8 bits); with more, no filter.
inline constexpr std::size_t kMaxFilteredPortIds = 200;

// Attaches (or replaces) a filter on netlink socket `fd` that drops every message whose
// nlmsg_pid is one of `port_ids`. Multicast notifications carry one message per datagram,
// which is what the filter looks at. Empty `port_ids`, or more than kMaxFilteredPortIds:
// the filter is removed and everything is delivered. Throws std::system_error.
void drop_echoes_of(int fd, std::span<const std::uint32_t> port_ids);

}  // namespace wgmesh::netlink
