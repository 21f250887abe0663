// The userspace backend: a WireGuard device run by wireguard-go (or any implementation of
// the cross-platform UAPI), driven through its unix socket <dir>/<iface>.sock.
//
// Partial application: wireguard-go applies a set transaction line by line and stops at the
// first line it rejects, so when an errno comes back the lines before it ARE applied. apply()
// does not try to roll back: the next apply() reads the device again with get() and sends
// whatever is still different.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "wg/config_diff.h"
#include "wg/device.h"

namespace wgmesh::wg {

// Collects a reply from successive reads and finds its end as uapi_reply_length() does,
// looking at each received byte once: searching the whole buffer after every read is
// quadratic, gigabytes of scanning for a hostile reply near kMaxUapiReplyBytes.
class UapiReplyReader {
  public:
    // Appends one read; the length of the complete reply once its end has arrived.
    std::optional<std::size_t> append(std::string_view bytes);
    const std::string& received() const { return received_; }
    std::string take() && { return std::move(received_); }

  private:
    std::string received_;
    std::size_t scanned_ = 0;  // no terminator ends before this offset
};

class UapiDevice : public WireGuardDevice {
  public:
    static constexpr const char* kDefaultSocketDirectory = "/var/run/wireguard";
    static constexpr std::chrono::milliseconds kDefaultTimeout{30000};

    // Throws std::invalid_argument for an invalid interface name. Does not connect yet.
    explicit UapiDevice(std::string interface_name,
                        std::string socket_directory = kDefaultSocketDirectory,
                        std::chrono::milliseconds timeout = kDefaultTimeout);

    const std::string& interface_name() const override { return name_; }
    // Throws std::system_error (connect/read failures, or the device's errno) and
    // UapiProtocolError (malformed reply).
    DeviceConfig get() override;
    void apply(const DeviceConfig& desired) override;
    DeviceUpdate apply_against(const DeviceConfig& current, const DeviceConfig& desired) override;
    // Sends `update` as one set transaction; an empty update sends nothing.
    void apply_update(const DeviceUpdate& update);

    // Set transactions sent so far (an apply() that found nothing to change sends none).
    std::uint64_t transactions_sent() const { return transactions_sent_; }
    const std::string& socket_path() const { return socket_path_; }

    // Whether `socket_path` exists and accepts a connection (how wg(8) picks UAPI).
    static bool socket_answers(const std::string& socket_path);

  private:
    // One request/reply exchange on a fresh connection; returns the complete reply.
    std::string exchange(std::string_view request);

    std::string name_;
    std::string socket_path_;
    std::chrono::milliseconds timeout_;
    std::uint64_t transactions_sent_ = 0;
};

}  // namespace wgmesh::wg
