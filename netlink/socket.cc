#include "netlink/socket.h"

#include <linux/genetlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace wgmesh::netlink {

namespace {

// Replies of a 100k-route dump or the errors of a big batch must not overflow the socket
// (FRR dies on that, networkd uses 128 MiB). Forcing needs CAP_NET_ADMIN; without it the
// kernel caps SO_RCVBUF at net.core.rmem_max and batches get smaller chunks instead.
constexpr int kReceiveBufferBytes = 64 * 1024 * 1024;
// A sendmsg larger than the send buffer fails with EMSGSIZE, so the buffer must hold a chunk.
constexpr int kSendBufferBytes = 1024 * 1024;
// The kernel fills dump datagrams up to 32 KiB (netlink max_recvmsg_len); twice that leaves
// room for any ACK with extended-ack attributes.
constexpr std::size_t kReceiveDatagramBytes = 64 * 1024;
// A refused message costs about this much of the receive buffer (skb truesize), so a chunk
// may hold at most rcvbuf / kErrorReplyCost messages even when every one of them fails.
constexpr std::size_t kErrorReplyCost = 2048;
// A kernel that stops answering is a bug we report instead of hanging the daemon.
constexpr int kReceiveTimeoutSeconds = 30;

std::system_error socket_error(int error, const std::string& what) {
    return std::system_error(error, std::generic_category(), "netlink: " + what);
}

bool set_int_option(mnl_socket* socket, int level, int name, int value) {
    return setsockopt(mnl_socket_get_fd(socket), level, name, &value, sizeof(value)) == 0;
}

int get_int_option(mnl_socket* socket, int name) {
    int value = 0;
    socklen_t length = sizeof(value);
    if (getsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, name, &value, &length) != 0) {
        return 0;
    }
    return value;
}

void set_buffer(mnl_socket* socket, int force_name, int name, int bytes) {
    if (!set_int_option(socket, SOL_SOCKET, force_name, bytes)) {
        // Best effort: the kernel caps the value at net.core.{r,w}mem_max.
        set_int_option(socket, SOL_SOCKET, name, bytes);
    }
}

// The port ids of this process's sockets, for is_own_port_id(). A closed one is kept a while:
// a monitor may read the notifications of its last writes after it closed.
class PortIdRegistry {
  public:
    static PortIdRegistry& instance() {
        static PortIdRegistry registry;
        return registry;
    }

    static std::uint64_t key(int protocol, std::uint32_t port_id) {
        return port_id == 0 ? 0 : (static_cast<std::uint64_t>(protocol) << 32) | port_id;
    }

    void add(std::uint64_t port_id) {
        const std::lock_guard lock(mutex_);
        prune(Clock::now());
        ++entries_[port_id].open;
        ++generation_;
    }

    void remove(std::uint64_t port_id) {
        const std::lock_guard lock(mutex_);
        const auto entry = entries_.find(port_id);
        if (entry != entries_.end() && entry->second.open > 0 && --entry->second.open == 0) {
            entry->second.closed_at = Clock::now();
            ++generation_;
        }
    }

    OpenPortIds open(int protocol) {
        const std::lock_guard lock(mutex_);
        OpenPortIds ids{.generation = generation_, .port_ids = {}};
        for (const auto& [key, entry] : entries_) {
            if (entry.open > 0 && static_cast<int>(key >> 32) == protocol) {
                ids.port_ids.push_back(static_cast<std::uint32_t>(key));
            }
        }
        return ids;
    }

    std::uint64_t generation() {
        const std::lock_guard lock(mutex_);
        return generation_;
    }

    bool contains(std::uint64_t port_id) {
        const std::lock_guard lock(mutex_);
        const auto entry = entries_.find(port_id);
        return entry != entries_.end() &&
               (entry->second.open > 0 || Clock::now() - entry->second.closed_at < kRecent);
    }

  private:
    using Clock = std::chrono::steady_clock;
    static constexpr auto kRecent = std::chrono::seconds(kRecentPortIdSeconds);
    struct Entry {
        int open = 0;  // sockets with this id (one per network namespace at most)
        Clock::time_point closed_at;
    };

    void prune(Clock::time_point now) {
        std::erase_if(entries_, [&](const auto& item) {
            return item.second.open == 0 && now - item.second.closed_at >= kRecent;
        });
    }

    std::mutex mutex_;
    std::unordered_map<std::uint64_t, Entry> entries_;  // by key()
    std::uint64_t generation_ = 0;                      // moves when the open set changes
};

}  // namespace

bool is_own_port_id(std::uint32_t port_id, int protocol) {
    return port_id != 0 &&
           PortIdRegistry::instance().contains(PortIdRegistry::key(protocol, port_id));
}

OpenPortIds open_port_ids(int protocol) {
    return PortIdRegistry::instance().open(protocol);
}

std::uint64_t open_port_ids_generation() {
    return PortIdRegistry::instance().generation();
}

NetlinkSocket::PortIdRegistration::PortIdRegistration(int protocol, std::uint32_t port_id)
    : key_(PortIdRegistry::key(protocol, port_id)) {
    if (key_ != 0) {
        PortIdRegistry::instance().add(key_);
    }
}

NetlinkSocket::PortIdRegistration::~PortIdRegistration() {
    if (key_ != 0) {
        PortIdRegistry::instance().remove(key_);
    }
}

NetlinkSocket::PortIdRegistration::PortIdRegistration(PortIdRegistration&& other) noexcept
    : key_(std::exchange(other.key_, 0)) {}

NetlinkSocket::PortIdRegistration& NetlinkSocket::PortIdRegistration::operator=(
    PortIdRegistration&& other) noexcept {
    if (this != &other) {
        if (key_ != 0) {
            PortIdRegistry::instance().remove(key_);
        }
        key_ = std::exchange(other.key_, 0);
    }
    return *this;
}

std::string NetlinkStatus::describe() const {
    std::string text = std::strerror(error);
    if (!message.empty()) {
        text += ": ";
        text += message;
    }
    return text;
}

NetlinkStatus parse_error_message(const nlmsghdr& message) {
    NetlinkStatus status;
    if (message.nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
        status.error = EBADMSG;
        return status;
    }
    const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(&message));
    status.error = -error->error;
    if (status.error < 0) {
        status.error = EBADMSG;  // a positive code is not a valid kernel answer
    }
    if (!(message.nlmsg_flags & NLM_F_ACK_TLVS)) {
        return status;
    }
    // The TLVs follow the echoed request: only its header when capped, else all of it.
    std::size_t offset = sizeof(nlmsgerr);
    if (!(message.nlmsg_flags & NLM_F_CAPPED)) {
        offset += NLMSG_ALIGN(error->msg.nlmsg_len) - sizeof(nlmsghdr);
    }
    const std::size_t payload = message.nlmsg_len - NLMSG_HDRLEN;
    if (offset > payload) {
        return status;
    }
    const auto* cursor = static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(&message)) + offset;
    std::size_t remaining = payload - offset;
    while (remaining >= sizeof(nlattr)) {
        const auto* attribute = reinterpret_cast<const nlattr*>(cursor);
        if (attribute->nla_len < sizeof(nlattr) || attribute->nla_len > remaining) {
            break;
        }
        if (mnl_attr_get_type(attribute) == NLMSGERR_ATTR_MSG) {
            const auto* text = static_cast<const char*>(mnl_attr_get_payload(attribute));
            const std::size_t length = mnl_attr_get_payload_len(attribute);
            status.message.assign(text, strnlen(text, length));
        }
        const std::size_t step = NLA_ALIGN(attribute->nla_len);
        if (step >= remaining) {
            break;
        }
        cursor += step;
        remaining -= step;
    }
    return status;
}

nlmsghdr* MessageBatch::add(std::uint16_t type, std::uint16_t flags, std::size_t header_size,
                            void** family_header) {
    seal();
    // Room for a whole message: libmnl's attribute helpers do not check the buffer end.
    if (buffer_.size() < end_ + kMaxMessageSize) {
        buffer_.resize(std::max(buffer_.size() * 2, end_ + kMaxMessageSize));
    }
    std::memset(buffer_.data() + end_, 0, NLMSG_HDRLEN + NLMSG_ALIGN(header_size));
    nlmsghdr* header = mnl_nlmsg_put_header(buffer_.data() + end_);
    header->nlmsg_type = type;
    header->nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST);
    void* extra = mnl_nlmsg_put_extra_header(header, header_size);
    if (family_header != nullptr) {
        *family_header = extra;
    }
    offsets_.push_back(static_cast<std::uint32_t>(end_));
    open_ = true;
    return header;
}

void MessageBatch::seal() {
    if (!open_) {
        return;
    }
    auto* header = reinterpret_cast<nlmsghdr*>(buffer_.data() + end_);
    if (header->nlmsg_len > kMaxMessageSize) {
        // Memory past the reserved room has already been overwritten; stop before using it.
        throw std::length_error("netlink: message larger than MessageBatch::kMaxMessageSize");
    }
    end_ += NLMSG_ALIGN(header->nlmsg_len);
    open_ = false;
}

void MessageBatch::clear() {
    offsets_.clear();
    end_ = 0;
    open_ = false;
}

nlmsghdr* MessageBatch::message(std::size_t index) {
    return reinterpret_cast<nlmsghdr*>(buffer_.data() + offsets_.at(index));
}

NetlinkSocket::NetlinkSocket(int protocol) : protocol_(protocol) {
    socket_.reset(mnl_socket_open(protocol));
    if (!socket_) {
        throw socket_error(errno, "cannot open socket of protocol " + std::to_string(protocol));
    }
    if (mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) != 0) {
        throw socket_error(errno, "cannot bind socket");
    }
    port_id_ = mnl_socket_get_portid(socket_.get());
    registration_ = PortIdRegistration(protocol_, port_id_);
    set_buffer(socket_.get(), SO_RCVBUFFORCE, SO_RCVBUF, kReceiveBufferBytes);
    set_buffer(socket_.get(), SO_SNDBUFFORCE, SO_SNDBUF, kSendBufferBytes);
    // Both appeared in Linux 4.12; without them errors still arrive, only without text.
    set_int_option(socket_.get(), SOL_NETLINK, NETLINK_EXT_ACK, 1);
    set_int_option(socket_.get(), SOL_NETLINK, NETLINK_CAP_ACK, 1);
    strict_checking_ = set_int_option(socket_.get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);
    timeval timeout{kReceiveTimeoutSeconds, 0};
    setsockopt(mnl_socket_get_fd(socket_.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout,
               sizeof(timeout));

    // The kernel refuses a sendmsg larger than the send buffer less its own 32 bytes.
    const int send_buffer = get_int_option(socket_.get(), SO_SNDBUF);
    if (send_buffer > 1024) {
        chunk_bytes_ = std::min<std::size_t>(kMaxChunkBytes, send_buffer - 512);
    }
    const int receive_buffer = get_int_option(socket_.get(), SO_RCVBUF);
    chunk_messages_ = std::max<std::size_t>(16, receive_buffer / kErrorReplyCost);
    receive_buffer_.resize(kReceiveDatagramBytes);
}

NetlinkSocket::~NetlinkSocket() = default;
NetlinkSocket::NetlinkSocket(NetlinkSocket&&) noexcept = default;
NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&&) noexcept = default;

void NetlinkSocket::send_raw(const void* data, std::size_t length) {
    for (;;) {
        const ssize_t sent = mnl_socket_sendto(socket_.get(), data, length);
        if (sent == static_cast<ssize_t>(length)) {
            return;
        }
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        throw socket_error(sent < 0 ? errno : EIO, "sendmsg failed");
    }
}

long NetlinkSocket::receive() {
    for (;;) {
        const ssize_t length =
            mnl_socket_recvfrom(socket_.get(), receive_buffer_.data(), receive_buffer_.size());
        if (length >= 0) {
            return static_cast<long>(length);
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == ENOBUFS) {
            return -ENOBUFS;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            throw socket_error(ETIMEDOUT, "the kernel did not answer within " +
                                              std::to_string(kReceiveTimeoutSeconds) + " s");
        }
        throw socket_error(errno, "recvmsg failed");
    }
}

std::vector<BatchFailure> NetlinkSocket::send_batch(MessageBatch& batch) {
    batch.seal();
    std::vector<BatchFailure> failures;
    std::size_t first = 0;
    while (first < batch.size()) {
        std::size_t last = first;
        std::size_t bytes = 0;
        while (last < batch.size() && last - first < chunk_messages_) {
            const std::size_t length = NLMSG_ALIGN(batch.message(last)->nlmsg_len);
            if (last > first && bytes + length > chunk_bytes_) {
                break;
            }
            bytes += length;
            ++last;
        }
        send_chunk(batch, first, last, failures);
        first = last;
    }
    return failures;
}

void NetlinkSocket::send_chunk(MessageBatch& batch, std::size_t first, std::size_t last,
                               std::vector<BatchFailure>& failures) {
    const std::uint32_t base = sequence_ + 1;
    for (std::size_t i = first; i < last; ++i) {
        nlmsghdr* message = batch.message(i);
        message->nlmsg_seq = base + static_cast<std::uint32_t>(i - first);
        message->nlmsg_pid = 0;
        if (i + 1 == last) {
            message->nlmsg_flags |= NLM_F_ACK;
        }
    }
    sequence_ += static_cast<std::uint32_t>(last - first);
    const std::uint32_t final_sequence = sequence_;
    const nlmsghdr* head = batch.message(first);
    const auto* end = reinterpret_cast<const std::uint8_t*>(batch.message(last - 1)) +
                      NLMSG_ALIGN(batch.message(last - 1)->nlmsg_len);
    send_raw(head, static_cast<std::size_t>(end - reinterpret_cast<const std::uint8_t*>(head)));

    const std::size_t failures_before = failures.size();
    bool overrun = false;
    std::uint32_t awaited = final_sequence;
    for (;;) {
        const long length = receive();
        if (length == -ENOBUFS) {
            // Error replies were dropped: which ones is unknowable. A NOOP with an ACK behind
            // everything queued tells when the rest of this chunk's answers have been read.
            overrun = true;
            nlmsghdr fence{};
            fence.nlmsg_len = NLMSG_HDRLEN;
            fence.nlmsg_type = NLMSG_NOOP;
            fence.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
            fence.nlmsg_seq = awaited = next_sequence();
            send_raw(&fence, sizeof(fence));
            continue;
        }
        bool done = false;
        auto remaining = static_cast<int>(length);
        for (auto* message = reinterpret_cast<const nlmsghdr*>(receive_buffer_.data());
             message_in_bounds(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
            if (message->nlmsg_type != NLMSG_ERROR) {
                continue;  // replies to GET requests, or not from the kernel
            }
            const std::uint32_t offset = message->nlmsg_seq - base;
            if (offset < last - first) {
                NetlinkStatus status = parse_error_message(*message);
                if (!status.ok()) {
                    failures.push_back({first + offset, std::move(status)});
                }
            }
            done |= message->nlmsg_seq == awaited;
        }
        if (done) {
            break;
        }
    }
    if (overrun) {
        std::vector<bool> answered(last - first, false);
        for (std::size_t i = failures_before; i < failures.size(); ++i) {
            answered[failures[i].index - first] = true;
        }
        for (std::size_t i = first; i < last; ++i) {
            if (!answered[i - first]) {
                failures.push_back({i,
                                    {ENOBUFS,
                                     "the kernel's answer was lost (receive buffer overrun); "
                                     "the outcome is unknown"}});
            }
        }
        std::sort(failures.begin() + static_cast<std::ptrdiff_t>(failures_before), failures.end(),
                  [](const BatchFailure& a, const BatchFailure& b) { return a.index < b.index; });
    }
}

bool NetlinkSocket::dump_once(nlmsghdr& request, const MessageCallback& on_message) {
    request.nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
    request.nlmsg_seq = next_sequence();
    request.nlmsg_pid = 0;
    send_raw(&request, request.nlmsg_len);
    bool complete = true;
    for (;;) {
        const long length = receive();
        if (length == -ENOBUFS) {
            complete = false;  // keep reading: the dump must run to its end before a new one
            continue;
        }
        auto remaining = static_cast<int>(length);
        for (auto* message = reinterpret_cast<const nlmsghdr*>(receive_buffer_.data());
             message_in_bounds(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
            if (message->nlmsg_seq != request.nlmsg_seq) {
                continue;  // left over from an earlier exchange
            }
            if (message->nlmsg_flags & NLM_F_DUMP_INTR) {
                complete = false;
            }
            if (message->nlmsg_type == NLMSG_DONE) {
                int error = 0;
                if (message->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
                    std::memcpy(&error, mnl_nlmsg_get_payload(message), sizeof(error));
                }
                if (error == -EINTR || error == -EBUSY) {
                    return false;
                }
                if (error != 0) {
                    throw socket_error(-error, "dump failed");
                }
                return complete;
            }
            if (message->nlmsg_type == NLMSG_ERROR) {
                const NetlinkStatus status = parse_error_message(*message);
                if (status.error == EINTR || status.error == EBUSY) {
                    return false;
                }
                throw socket_error(status.error ? status.error : EBADMSG,
                                   "dump refused: " + status.describe());
            }
            if (complete && message->nlmsg_type >= NLMSG_MIN_TYPE) {
                on_message(*message);
            }
        }
    }
}

void NetlinkSocket::dump(nlmsghdr& request, const MessageCallback& on_message,
                         const std::function<void()>& on_restart) {
    for (int attempt = 1; attempt <= kMaxDumpAttempts; ++attempt) {
        if (dump_once(request, on_message)) {
            return;
        }
        if (on_restart) {
            on_restart();
        }
    }
    throw std::runtime_error("netlink: dump was interrupted " + std::to_string(kMaxDumpAttempts) +
                             " times in a row (the table keeps changing); giving up");
}

NetlinkStatus NetlinkSocket::request(nlmsghdr& message, const MessageCallback& on_reply) {
    message.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    message.nlmsg_seq = next_sequence();
    message.nlmsg_pid = 0;
    send_raw(&message, message.nlmsg_len);
    for (;;) {
        const long length = receive();
        if (length == -ENOBUFS) {
            return {ENOBUFS, "the kernel's answer was lost (receive buffer overrun)"};
        }
        auto remaining = static_cast<int>(length);
        for (auto* reply = reinterpret_cast<const nlmsghdr*>(receive_buffer_.data());
             message_in_bounds(reply, remaining); reply = mnl_nlmsg_next(reply, &remaining)) {
            if (reply->nlmsg_seq != message.nlmsg_seq) {
                continue;
            }
            if (reply->nlmsg_type == NLMSG_ERROR) {
                return parse_error_message(*reply);
            }
            if (reply->nlmsg_type >= NLMSG_MIN_TYPE && on_reply) {
                on_reply(*reply);
            }
        }
    }
}

std::uint16_t resolve_genl_family(NetlinkSocket& socket, std::string_view name) {
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* message = mnl_nlmsg_put_header(buffer.data());
    message->nlmsg_type = GENL_ID_CTRL;
    auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(message, sizeof(genlmsghdr)));
    genl->cmd = CTRL_CMD_GETFAMILY;
    genl->version = 1;
    const std::string family(name);
    mnl_attr_put_strz(message, CTRL_ATTR_FAMILY_NAME, family.c_str());

    std::uint16_t id = 0;
    const NetlinkStatus status = socket.request(*message, [&](const nlmsghdr& reply) {
        const auto* payload = static_cast<const std::uint8_t*>(
            mnl_nlmsg_get_payload_offset(&reply, sizeof(genlmsghdr)));
        auto remaining = static_cast<int>(reply.nlmsg_len) -
                         static_cast<int>(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(genlmsghdr)));
        for (auto* attribute = reinterpret_cast<const nlattr*>(payload);
             mnl_attr_ok(attribute, remaining);
             remaining -= static_cast<int>(NLA_ALIGN(attribute->nla_len)),
                   attribute = mnl_attr_next(attribute)) {
            if (mnl_attr_get_type(attribute) == CTRL_ATTR_FAMILY_ID &&
                mnl_attr_validate(attribute, MNL_TYPE_U16) == 0) {
                id = mnl_attr_get_u16(attribute);
            }
        }
    });
    if (!status.ok()) {
        throw socket_error(status.error, "generic netlink family '" + family +
                                             "' not available: " + status.describe());
    }
    if (id == 0) {
        throw socket_error(EBADMSG, "generic netlink family '" + family + "': reply has no id");
    }
    return id;
}

}  // namespace wgmesh::netlink
