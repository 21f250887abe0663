// The plumbing of `wgmesh join` around the reconcile loop: signals through a signalfd (no
// work in async handlers), store changes through an eventfd, the systemd watchdog, the
// secret's intake and the interface addresses recorded for `wgmesh cleanup`.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mesh/peer_store.h"
#include "netlink/address.h"
#include "netlink/ip_address.h"
#include "tools/wgmesh/flags.h"

namespace wgmesh::cli {

// Blocks the signals for the whole process (call before starting threads) and reads them
// from a signalfd. The previous mask is restored on destruction.
class SignalSet {
  public:
    explicit SignalSet(std::initializer_list<int> signals);
    ~SignalSet();
    SignalSet(const SignalSet&) = delete;
    SignalSet& operator=(const SignalSet&) = delete;
    int fd() const { return fd_; }
    // The next pending signal, or 0.
    int take() const;

  private:
    int fd_ = -1;
    sigset_t previous_{};
};

// Turns store events into a readable eventfd, from a thread of its own (the subscription
// can only be waited on with a condition variable).
class StoreWaker {
  public:
    explicit StoreWaker(mesh::PeerStore& store);
    ~StoreWaker();
    StoreWaker(const StoreWaker&) = delete;
    StoreWaker& operator=(const StoreWaker&) = delete;
    int fd() const { return fd_; }
    // True when events arrived since the last call.
    bool take() const;
    void stop();

  private:
    void run();

    std::shared_ptr<mesh::PeerSubscription> subscription_;
    int fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

struct Wakeup {
    int signal = 0;
    bool store_changed = false;
    bool kernel_event = false;  // kernel_fd is readable
    bool health_event = false;  // health_fd is readable
};

// Waits until a signal, a store change, a kernel notification on `kernel_fd` (-1: none), a
// change of the offline peers on `health_fd` (-1: none) or `deadline`.
Wakeup wait_for_events(const SignalSet& signals, const StoreWaker& waker, int kernel_fd,
                       int health_fd, std::chrono::steady_clock::time_point deadline);

// WATCHDOG=1 at half the WatchdogSec= period when systemd asks for it.
class Watchdog {
  public:
    Watchdog();
    bool enabled() const { return period_.count() > 0; }
    std::chrono::steady_clock::time_point next_ping() const { return next_; }
    void ping_if_due(std::chrono::steady_clock::time_point now);
    void ping();

  private:
    std::chrono::microseconds period_{0};
    std::chrono::steady_clock::time_point next_;
};

// The value of --`flag`: "5s", "500ms" or a number of seconds; between 50 ms and 1 h.
// Throws UsageError naming the flag.
std::chrono::milliseconds parse_interval(std::string_view flag, std::string_view text);

// The kernel's AddressSet of the interface, telling `on_replace` about every change so the
// interface state file lists what wgmesh added.
class RecordingAddressSet : public netlink::AddressSet {
  public:
    using OnReplace = std::function<void(const std::optional<netlink::InterfaceAddress>&,
                                         const netlink::InterfaceAddress&)>;
    RecordingAddressSet(std::string interface, OnReplace on_replace);
    std::vector<netlink::InterfaceAddress> list() override;
    void replace(const std::optional<netlink::InterfaceAddress>& previous,
                 const netlink::InterfaceAddress& replacement) override;

  private:
    netlink::KernelAddressSet inner_;
    OnReplace on_replace_;
};

// Puts the mesh addresses on the interface. An address of the same family that an earlier
// run recorded (`recorded`) and that is no longer wanted (a new secret, subnet or nonce) is
// replaced, new before old; foreign addresses are left alone.
void ensure_addresses(netlink::AddressSet& addresses,
                      const std::vector<netlink::InterfaceAddress>& recorded,
                      const netlink::InterfaceAddress& v4,
                      const std::optional<netlink::InterfaceAddress>& v6);

// Whether a wgmesh daemon answers a status request on the control socket (2 s at most).
bool daemon_answers(const std::filesystem::path& socket);

// The subnets of this host's other interfaces (IPv6 link-local left out): peers whose
// endpoint lies in one are on the LAN and never relay-routed. Errors give an empty list.
std::vector<netlink::Prefix> local_subnets(const std::string& mesh_interface);

}  // namespace wgmesh::cli
