// The service manager's notification protocol (sd_notify(3)), spoken directly: a datagram of
// "KEY=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET, and the watchdog period
// from $WATCHDOG_USEC / $WATCHDOG_PID. systemd documents both as a stable interface for
// programs that do not link libsystemd; linking it cost the daemon libsystemd, libgcrypt,
// libgpg-error and the compression libraries for these two calls.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace wgmesh::cli {

// Sends `state` ("READY=1", "STOPPING=1", "WATCHDOG=1") when a service manager asked for
// notifications. Returns false when none did or the datagram could not be sent: a daemon
// started by hand or by a manager without the protocol runs on regardless.
bool notify_service_manager(std::string_view state);

// The period at which WATCHDOG=1 must arrive (WatchdogSec=), when the watchdog is on for
// this process: $WATCHDOG_USEC is a positive integer and $WATCHDOG_PID, when set, is ours.
std::optional<std::chrono::microseconds> service_watchdog_period();

}  // namespace wgmesh::cli
