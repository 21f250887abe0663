// An RAII netlink socket over libmnl with the three exchanges everything in wgmesh needs:
//  - a batch: many requests in one buffer, sent with as few sendmsg calls as possible, with
//    every failure matched to its request by sequence number (errno + extended-ack text);
//  - a dump: one request, a callback per reply message, restarted from scratch when the
//    kernel reports an interrupted dump (NLM_F_DUMP_INTR) or lost messages (ENOBUFS);
//  - a single request: send one message, receive its replies and its ACK.
// Works for NETLINK_ROUTE and NETLINK_GENERIC. Messages are built with libmnl
// (mnl_attr_put_*); the socket fills in nlmsg_seq and nlmsg_pid itself.
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wgmesh::netlink {

// The kernel's answer to one request: 0 or a positive errno, plus the extended-ack text
// (NLMSGERR_ATTR_MSG) when the kernel sent one.
struct NetlinkStatus {
    int error = 0;
    std::string message;  // kernel's extended-ack text, may be empty

    bool ok() const { return error == 0; }
    // "strerror(error)" or "strerror(error): ext-ack text".
    std::string describe() const;
};

// Whether a whole message starts at `message` within `remaining` bytes. Use instead of
// mnl_nlmsg_ok, which casts nlmsg_len to int and so accepts lengths of 2 GiB and more.
inline bool message_in_bounds(const nlmsghdr* message, int remaining) {
    return remaining >= static_cast<int>(sizeof(nlmsghdr)) &&
           message->nlmsg_len >= sizeof(nlmsghdr) &&
           message->nlmsg_len <= static_cast<unsigned>(remaining);
}

// Whether `port_id` belongs to a NetlinkSocket of `protocol` in this process: one that is open,
// or was closed less than kRecentPortIdSeconds ago (its notifications may still be queued at a
// monitor). rtnetlink notifications carry the requester's port id in nlmsg_pid, so a monitor
// uses this to ignore the echoes of our own writes. Port id 0 (the kernel itself) is never
// ours. Thread-safe. Port ids are unique per protocol and network namespace; the registry does
// not key on the namespace, which is harmless: autobound ids are the process id or random, so
// a foreign socket almost never shares one of ours.
bool is_own_port_id(std::uint32_t port_id, int protocol = NETLINK_ROUTE);
inline constexpr int kRecentPortIdSeconds = 10;

// The port ids of this process's open NetlinkSockets of one protocol, and the registry's
// generation, which moves whenever that set changes: a monitor that filters our own echoes
// in the kernel (netlink/echo_filter.h) refreshes its filter when the generation moved.
struct OpenPortIds {
    std::uint64_t generation = 0;
    std::vector<std::uint32_t> port_ids;
};
OpenPortIds open_port_ids(int protocol = NETLINK_ROUTE);
std::uint64_t open_port_ids_generation();

// Reads the status out of an NLMSG_ERROR message (with or without NLM_F_CAPPED and
// NLM_F_ACK_TLVS). Returns EBADMSG when the message is truncated.
NetlinkStatus parse_error_message(const nlmsghdr& message);

// Requests to send together. Each message is appended with add() and then filled with
// libmnl attribute helpers; the header returned by add() stays valid until the next add().
class MessageBatch {
  public:
    // Largest message add() makes room for; attributes beyond it corrupt the batch.
    static constexpr std::size_t kMaxMessageSize = 4096;

    // Starts a message of `type` with `flags` (NLM_F_REQUEST is added; do not set NLM_F_ACK,
    // the socket requests ACKs itself) and `header_size` bytes of zeroed family header
    // (rtmsg, ifaddrmsg, ...), which is returned through `family_header`.
    nlmsghdr* add(std::uint16_t type, std::uint16_t flags, std::size_t header_size = 0,
                  void** family_header = nullptr);

    std::size_t size() const { return offsets_.size(); }
    bool empty() const { return offsets_.empty(); }
    void clear();

    // For the socket: the i-th message (after the last add() was completed).
    nlmsghdr* message(std::size_t index);
    // Closes the open message (records its final length); add() and the socket call it.
    void seal();

  private:
    std::vector<std::uint8_t> buffer_;
    std::vector<std::uint32_t> offsets_;
    std::size_t end_ = 0;  // end of the sealed messages
    bool open_ = false;
};

// One failed message of a batch: index into the batch, and the kernel's answer.
struct BatchFailure {
    std::size_t index = 0;
    NetlinkStatus status;
};

class NetlinkSocket {
  public:
    // Opens and binds a socket of `protocol` (NETLINK_ROUTE, NETLINK_GENERIC); throws
    // std::system_error. Sets a large receive buffer, extended ACKs, capped ACKs and, when
    // the kernel has it, strict checking of dump requests (so dumps can be filtered in-kernel).
    explicit NetlinkSocket(int protocol = NETLINK_ROUTE);
    ~NetlinkSocket();
    NetlinkSocket(NetlinkSocket&&) noexcept;
    NetlinkSocket& operator=(NetlinkSocket&&) noexcept;
    NetlinkSocket(const NetlinkSocket&) = delete;
    NetlinkSocket& operator=(const NetlinkSocket&) = delete;

    int protocol() const { return protocol_; }
    std::uint32_t port_id() const { return port_id_; }
    // Whether the kernel accepted NETLINK_GET_STRICT_CHK (Linux >= 4.20): dump requests may
    // then carry filters (rtm_table, RTA_OIF, ...) that the kernel applies itself.
    bool strict_checking() const { return strict_checking_; }
    mnl_socket* raw() const { return socket_.get(); }

    // Sends every message of the batch (in chunks of at most kMaxChunkBytes per sendmsg) and
    // returns the messages the kernel refused, in batch order. Successful messages produce
    // no ACK traffic: only the last message of each chunk asks for an ACK, which tells that
    // the whole chunk was processed (the kernel handles a sendmsg's messages in order and
    // always reports errors). Throws std::system_error only when the socket itself fails.
    std::vector<BatchFailure> send_batch(MessageBatch& batch);

    // Sends a dump request (NLM_F_DUMP is added) and calls `on_message` for every reply
    // message. When the dump was interrupted or replies were lost, calls `on_restart` (the
    // caller drops what it collected) and dumps again, at most kMaxDumpAttempts times; then
    // throws std::runtime_error. A kernel error reply throws std::system_error.
    using MessageCallback = std::function<void(const nlmsghdr&)>;
    void dump(nlmsghdr& request, const MessageCallback& on_message,
              const std::function<void()>& on_restart);

    // Sends one request with NLM_F_ACK, calls `on_reply` (may be empty) for each reply
    // message, and returns the ACK's status.
    NetlinkStatus request(nlmsghdr& message, const MessageCallback& on_reply = {});

    static constexpr std::size_t kMaxChunkBytes = 256 * 1024;
    static constexpr int kMaxDumpAttempts = 8;

  private:
    struct Closer {
        void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
    };
    std::uint32_t next_sequence() { return ++sequence_; }
    // Receives one datagram into receive_buffer_; returns its length, or -errno for
    // ENOBUFS (EINTR is retried). Other errors throw.
    long receive();
    void send_raw(const void* data, std::size_t length);
    // Sends messages [first, last) of the batch and reads their failures.
    void send_chunk(MessageBatch& batch, std::size_t first, std::size_t last,
                    std::vector<BatchFailure>& failures);
    // One dump attempt; false when it must be restarted.
    bool dump_once(nlmsghdr& request, const MessageCallback& on_message);

    // Registers a port id in the is_own_port_id() registry for as long as it lives.
    class PortIdRegistration {
      public:
        PortIdRegistration() = default;
        PortIdRegistration(int protocol, std::uint32_t port_id);
        ~PortIdRegistration();
        PortIdRegistration(PortIdRegistration&& other) noexcept;
        PortIdRegistration& operator=(PortIdRegistration&& other) noexcept;

      private:
        std::uint64_t key_ = 0;  // protocol and port id; 0: nothing registered
    };

    std::unique_ptr<mnl_socket, Closer> socket_;
    PortIdRegistration registration_;
    int protocol_ = 0;
    std::uint32_t port_id_ = 0;
    std::uint32_t sequence_ = 0;
    bool strict_checking_ = false;
    std::size_t chunk_bytes_ = kMaxChunkBytes;
    std::size_t chunk_messages_ = 0;
    std::vector<std::uint8_t> receive_buffer_;
};

// Resolves a generic-netlink family name ("wireguard") to its id with CTRL_CMD_GETFAMILY.
// Throws std::system_error (ENOENT when the family is not registered, i.e. the module is
// not loaded) naming the family.
std::uint16_t resolve_genl_family(NetlinkSocket& socket, std::string_view name);

}  // namespace wgmesh::netlink
