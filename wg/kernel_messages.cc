#include "wg/kernel_messages.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#include "netlink/interface_name.h"

namespace wgmesh::wg {

namespace {

// ---------------------------------------------------------------- building

class MessageBuilder {
  public:
    MessageBuilder(std::size_t size, std::uint16_t family_id, std::uint8_t command,
                   std::uint16_t flags)
        : buffer_(size) {
        nlh_ = mnl_nlmsg_put_header(buffer_.data());
        nlh_->nlmsg_type = family_id;
        nlh_->nlmsg_flags = flags;
        auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(genlmsghdr)));
        genl->cmd = command;
        genl->version = WG_GENL_VERSION;
    }

    nlmsghdr* nlh() { return nlh_; }
    std::size_t capacity() const { return buffer_.size(); }
    std::size_t length() const { return nlh_->nlmsg_len; }

    bool put(std::uint16_t type, const void* data, std::size_t len) {
        return mnl_attr_put_check(nlh_, capacity(), type, len, data);
    }
    bool put_u8(std::uint16_t type, std::uint8_t v) { return put(type, &v, sizeof(v)); }
    bool put_u16(std::uint16_t type, std::uint16_t v) { return put(type, &v, sizeof(v)); }
    bool put_u32(std::uint16_t type, std::uint32_t v) { return put(type, &v, sizeof(v)); }
    bool put_key(std::uint16_t type, const Key& key) {
        return put(type, key.bytes().data(), Key::kSize);
    }
    nlattr* nest_start(std::uint16_t type) {
        return mnl_attr_nest_start_check(nlh_, capacity(), type);
    }
    void nest_end(nlattr* nest) { mnl_attr_nest_end(nlh_, nest); }
    void nest_cancel(nlattr* nest) { mnl_attr_nest_cancel(nlh_, nest); }

    NetlinkMessage take() {
        buffer_.resize(nlh_->nlmsg_len);
        return std::move(buffer_);
    }

  private:
    std::vector<std::uint8_t> buffer_;
    nlmsghdr* nlh_;
};

bool put_endpoint(MessageBuilder& b, const netlink::SocketAddress& endpoint) {
    if (endpoint.address.is_v4()) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(endpoint.port);
        std::memcpy(&sin.sin_addr, endpoint.address.data(), 4);
        return b.put(WGPEER_A_ENDPOINT, &sin, sizeof(sin));
    }
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(endpoint.port);
    std::memcpy(&sin6.sin6_addr, endpoint.address.data(), 16);
    return b.put(WGPEER_A_ENDPOINT, &sin6, sizeof(sin6));
}

bool put_allowed_ip(MessageBuilder& b, const netlink::Prefix& prefix) {
    nlattr* nest = b.nest_start(0);
    if (!nest)
        return false;
    const auto& address = prefix.address();
    if (!b.put_u16(WGALLOWEDIP_A_FAMILY, static_cast<std::uint16_t>(address.family_af())) ||
        !b.put(WGALLOWEDIP_A_IPADDR, address.data(), address.size()) ||
        !b.put_u8(WGALLOWEDIP_A_CIDR_MASK, static_cast<std::uint8_t>(prefix.length()))) {
        b.nest_cancel(nest);
        return false;
    }
    b.nest_end(nest);
    return true;
}

// The fields sent only in a peer's first fragment.
bool put_peer_head(MessageBuilder& b, const PeerUpdate& peer) {
    std::uint32_t flags = 0;
    if (peer.remove)
        flags |= WGPEER_F_REMOVE_ME;
    if (peer.replace_allowed_ips)
        flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
    if (flags != 0 && !b.put_u32(WGPEER_A_FLAGS, flags))
        return false;
    if (peer.remove)
        return true;
    if (peer.preshared_key && !b.put_key(WGPEER_A_PRESHARED_KEY, *peer.preshared_key))
        return false;
    if (peer.endpoint && !put_endpoint(b, *peer.endpoint))
        return false;
    if (peer.persistent_keepalive &&
        !b.put_u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, *peer.persistent_keepalive))
        return false;
    return true;
}

// Where the next message resumes.
struct Cursor {
    std::size_t peer = 0;
    std::size_t allowed_ip = 0;
    bool head_sent = false;  // the current peer's first fragment went in an earlier message
};

// Adds as much of peer `cursor.peer` as fits; returns true when the whole peer went in.
// Whatever went in stays in the message (nests closed), and the cursor says what is left.
bool put_peer(MessageBuilder& b, const PeerUpdate& peer, Cursor& cursor, bool& progress) {
    const std::size_t before = b.length();
    nlattr* peer_nest = b.nest_start(0);
    if (!peer_nest)
        return false;
    if (!b.put_key(WGPEER_A_PUBLIC_KEY, peer.public_key) ||
        (!cursor.head_sent && !put_peer_head(b, peer))) {
        b.nest_cancel(peer_nest);
        return false;
    }
    const bool had_head = !cursor.head_sent;
    cursor.head_sent = true;
    bool complete = true;
    if (!peer.remove && cursor.allowed_ip < peer.allowed_ips.size()) {
        nlattr* ips_nest = b.nest_start(WGPEER_A_ALLOWEDIPS);
        std::size_t added = 0;
        if (ips_nest) {
            while (cursor.allowed_ip < peer.allowed_ips.size() &&
                   put_allowed_ip(b, peer.allowed_ips[cursor.allowed_ip])) {
                ++cursor.allowed_ip;
                ++added;
            }
            if (added > 0)
                b.nest_end(ips_nest);
            else
                b.nest_cancel(ips_nest);
        }
        complete = cursor.allowed_ip == peer.allowed_ips.size();
        if (!complete && added == 0 && !had_head) {
            // Only the public key would go: a fragment that says nothing.
            b.nest_cancel(peer_nest);
            return false;
        }
    }
    b.nest_end(peer_nest);
    progress |= b.length() > before;
    if (complete)
        cursor = Cursor{cursor.peer + 1, 0, false};
    return complete;
}

}  // namespace

NetlinkMessage build_get_device_request(std::string_view ifname, std::uint16_t family_id) {
    netlink::require_valid_interface_name(ifname);
    MessageBuilder b(MNL_SOCKET_BUFFER_SIZE, family_id, WG_CMD_GET_DEVICE,
                     NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
    const std::string name(ifname);
    b.put(WGDEVICE_A_IFNAME, name.c_str(), name.size() + 1);
    return b.take();
}

std::vector<NetlinkMessage> build_set_device_messages(std::string_view ifname,
                                                      std::uint16_t family_id,
                                                      const DeviceUpdate& update,
                                                      std::size_t max_message_size) {
    netlink::require_valid_interface_name(ifname);
    std::vector<NetlinkMessage> messages;
    if (update.empty())
        return messages;
    const std::string name(ifname);
    Cursor cursor;
    bool first = true;
    while (first || cursor.peer < update.peers.size()) {
        MessageBuilder b(max_message_size, family_id, WG_CMD_SET_DEVICE, NLM_F_REQUEST | NLM_F_ACK);
        bool progress = false;
        if (!b.put(WGDEVICE_A_IFNAME, name.c_str(), name.size() + 1))
            throw std::invalid_argument("netlink message size too small for SET_DEVICE");
        if (first) {
            const bool fits =
                (!update.private_key || b.put_key(WGDEVICE_A_PRIVATE_KEY, *update.private_key)) &&
                (!update.listen_port || b.put_u16(WGDEVICE_A_LISTEN_PORT, *update.listen_port)) &&
                (!update.fwmark || b.put_u32(WGDEVICE_A_FWMARK, *update.fwmark));
            if (!fits)
                throw std::invalid_argument("netlink message size too small for SET_DEVICE");
            progress = update.private_key || update.listen_port || update.fwmark;
            first = false;
        }
        if (cursor.peer < update.peers.size()) {
            nlattr* peers_nest = b.nest_start(WGDEVICE_A_PEERS);
            bool any_peer = false;
            if (peers_nest) {
                while (cursor.peer < update.peers.size()) {
                    bool peer_progress = false;
                    const bool complete =
                        put_peer(b, update.peers[cursor.peer], cursor, peer_progress);
                    any_peer |= peer_progress;
                    if (!complete)
                        break;
                }
            }
            if (peers_nest && any_peer)
                b.nest_end(peers_nest);
            else if (peers_nest)
                b.nest_cancel(peers_nest);
            progress |= any_peer;
        }
        if (!progress) {
            throw std::invalid_argument("netlink message size " + std::to_string(max_message_size) +
                                        " too small for one WireGuard peer");
        }
        messages.push_back(b.take());
    }
    return messages;
}

// ---------------------------------------------------------------- parsing

namespace {

[[noreturn]] void malformed(const std::string& what) {
    throw std::runtime_error("malformed WireGuard GET_DEVICE reply: " + what);
}

struct Attribute {
    std::uint16_t type;
    std::span<const std::uint8_t> payload;
};

// Walks the attributes in `data` strictly: every attribute must be complete.
template <typename F>
void for_each_attribute(std::span<const std::uint8_t> data, const char* where, F&& on_attribute) {
    while (!data.empty()) {
        nlattr header;
        if (data.size() < sizeof(header))
            malformed(std::string("truncated attribute header in ") + where);
        std::memcpy(&header, data.data(), sizeof(header));
        if (header.nla_len < sizeof(header) || header.nla_len > data.size())
            malformed(std::string("attribute length out of bounds in ") + where);
        on_attribute(Attribute{static_cast<std::uint16_t>(header.nla_type & NLA_TYPE_MASK),
                               data.subspan(sizeof(header), header.nla_len - sizeof(header))});
        data = data.subspan(std::min<std::size_t>(NLA_ALIGN(header.nla_len), data.size()));
    }
}

template <typename T>
T read_scalar(const Attribute& a, const char* name) {
    if (a.payload.size() != sizeof(T))
        malformed(std::string(name) + " has " + std::to_string(a.payload.size()) +
                  " bytes, expected " + std::to_string(sizeof(T)));
    T value;
    std::memcpy(&value, a.payload.data(), sizeof(T));
    return value;
}

Key read_key(const Attribute& a, const char* name) {
    if (a.payload.size() != Key::kSize)
        malformed(std::string(name) + " is not 32 bytes");
    std::array<std::uint8_t, Key::kSize> bytes;
    std::memcpy(bytes.data(), a.payload.data(), Key::kSize);
    return Key(bytes);
}

netlink::SocketAddress read_endpoint(const Attribute& a) {
    sa_family_t family = 0;
    if (a.payload.size() >= sizeof(family))
        std::memcpy(&family, a.payload.data(), sizeof(family));
    if (family == AF_INET && a.payload.size() == sizeof(sockaddr_in)) {
        sockaddr_in sin;
        std::memcpy(&sin, a.payload.data(), sizeof(sin));
        return {netlink::IpAddress::v4(sin.sin_addr), ntohs(sin.sin_port)};
    }
    if (family == AF_INET6 && a.payload.size() == sizeof(sockaddr_in6)) {
        sockaddr_in6 sin6;
        std::memcpy(&sin6, a.payload.data(), sizeof(sin6));
        return {netlink::IpAddress::v6(sin6.sin6_addr), ntohs(sin6.sin6_port)};
    }
    malformed("endpoint is neither a sockaddr_in nor a sockaddr_in6");
}

netlink::Prefix read_allowed_ip(std::span<const std::uint8_t> nest) {
    std::optional<std::uint16_t> family;
    std::span<const std::uint8_t> address;
    std::optional<std::uint8_t> mask;
    for_each_attribute(nest, "allowed IP", [&](const Attribute& a) {
        switch (a.type) {
            case WGALLOWEDIP_A_FAMILY:
                family = read_scalar<std::uint16_t>(a, "allowed IP family");
                break;
            case WGALLOWEDIP_A_IPADDR:
                address = a.payload;
                break;
            case WGALLOWEDIP_A_CIDR_MASK:
                mask = read_scalar<std::uint8_t>(a, "allowed IP mask");
                break;
            default:
                break;
        }
    });
    if (!family || !mask || (*family != AF_INET && *family != AF_INET6))
        malformed("allowed IP without a known family or a mask");
    const auto ip = netlink::IpAddress::from_bytes(static_cast<netlink::Family>(*family),
                                                   address.data(), address.size());
    const unsigned width = *family == AF_INET ? 32 : 128;
    if (!ip || *mask > width)
        malformed("allowed IP address does not match its family, or mask too long");
    return netlink::Prefix(*ip, *mask);
}

PeerConfig read_peer(std::span<const std::uint8_t> nest) {
    PeerConfig peer;
    bool has_key = false;
    for_each_attribute(nest, "peer", [&](const Attribute& a) {
        switch (a.type) {
            case WGPEER_A_PUBLIC_KEY:
                peer.public_key = read_key(a, "peer public key");
                has_key = true;
                break;
            case WGPEER_A_PRESHARED_KEY: {
                Key psk = read_key(a, "preshared key");
                if (!psk.is_zero())
                    peer.preshared_key = psk;
                break;
            }
            case WGPEER_A_ENDPOINT:
                peer.endpoint = read_endpoint(a);
                break;
            case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
                peer.persistent_keepalive = read_scalar<std::uint16_t>(a, "keepalive");
                break;
            case WGPEER_A_LAST_HANDSHAKE_TIME: {
                // struct __kernel_timespec: s64 seconds, s64 nanoseconds.
                if (a.payload.size() != 16)
                    malformed("last handshake time is not a 16-byte timespec");
                std::memcpy(&peer.last_handshake_unix, a.payload.data(), 8);
                break;
            }
            case WGPEER_A_RX_BYTES:
                peer.rx_bytes = read_scalar<std::uint64_t>(a, "rx bytes");
                break;
            case WGPEER_A_TX_BYTES:
                peer.tx_bytes = read_scalar<std::uint64_t>(a, "tx bytes");
                break;
            case WGPEER_A_ALLOWEDIPS:
                for_each_attribute(a.payload, "allowed IPs", [&](const Attribute& ip) {
                    peer.allowed_ips.push_back(read_allowed_ip(ip.payload));
                });
                break;
            default:
                break;
        }
    });
    if (!has_key)
        malformed("peer without a public key");
    return peer;
}

}  // namespace

void GetDeviceDumpParser::add_message(std::span<const std::uint8_t> message) {
    nlmsghdr header;
    if (message.size() < sizeof(header))
        malformed("truncated netlink header");
    std::memcpy(&header, message.data(), sizeof(header));
    if (header.nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN || header.nlmsg_len > message.size())
        malformed("netlink message length out of bounds");
    if (header.nlmsg_type != family_id_)
        malformed("message of type " + std::to_string(header.nlmsg_type) +
                  " is not from the wireguard family");
    genlmsghdr genl;
    std::memcpy(&genl, message.data() + NLMSG_HDRLEN, sizeof(genl));
    if (genl.cmd != WG_CMD_GET_DEVICE)
        malformed("unexpected command " + std::to_string(genl.cmd));
    const auto attributes =
        message.subspan(NLMSG_HDRLEN + GENL_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
    for_each_attribute(attributes, "device", [&](const Attribute& a) {
        switch (a.type) {
            case WGDEVICE_A_PRIVATE_KEY: {
                Key key = read_key(a, "private key");
                if (key.is_zero())
                    device_.private_key.reset();
                else
                    device_.private_key = key;
                break;
            }
            case WGDEVICE_A_LISTEN_PORT: {
                const auto port = read_scalar<std::uint16_t>(a, "listen port");
                if (port != 0)
                    device_.listen_port = port;
                break;
            }
            case WGDEVICE_A_FWMARK:
                device_.fwmark = read_scalar<std::uint32_t>(a, "fwmark");
                break;
            case WGDEVICE_A_PEERS:
                for_each_attribute(a.payload, "peers", [&](const Attribute& p) {
                    PeerConfig peer = read_peer(p.payload);
                    if (!device_.peers.empty() &&
                        device_.peers.back().public_key == peer.public_key) {
                        auto& ips = device_.peers.back().allowed_ips;
                        ips.insert(ips.end(), peer.allowed_ips.begin(), peer.allowed_ips.end());
                        return;
                    }
                    if (!device_.peers.empty())
                        finished_peers_.insert(device_.peers.back().public_key);
                    if (finished_peers_.contains(peer.public_key))
                        malformed("peer " + peer.public_key.to_base64() + " repeated");
                    device_.peers.push_back(std::move(peer));
                });
                break;
            default:
                break;
        }
    });
}

DeviceConfig GetDeviceDumpParser::finish() {
    DeviceConfig out = std::move(device_);
    device_ = DeviceConfig{};
    finished_peers_.clear();
    return out;
}

DeviceConfig parse_get_device_messages(std::span<const std::uint8_t> stream,
                                       std::uint16_t family_id) {
    GetDeviceDumpParser parser(family_id);
    while (!stream.empty()) {
        nlmsghdr header;
        if (stream.size() < sizeof(header))
            malformed("truncated netlink header");
        std::memcpy(&header, stream.data(), sizeof(header));
        if (header.nlmsg_len < sizeof(header) || header.nlmsg_len > stream.size())
            malformed("netlink message length out of bounds");
        const auto message = stream.subspan(0, header.nlmsg_len);
        stream =
            stream.subspan(std::min<std::size_t>(NLMSG_ALIGN(header.nlmsg_len), stream.size()));
        if (header.nlmsg_type == NLMSG_NOOP)
            continue;
        if (header.nlmsg_type == NLMSG_DONE || header.nlmsg_type == NLMSG_ERROR) {
            std::int32_t error = 0;
            if (message.size() >= NLMSG_HDRLEN + sizeof(error))
                std::memcpy(&error, message.data() + NLMSG_HDRLEN, sizeof(error));
            else if (header.nlmsg_type == NLMSG_ERROR)
                malformed("truncated NLMSG_ERROR");
            if (error < 0 && error > -4096)
                throw std::system_error(-error, std::generic_category(),
                                        "kernel refused WireGuard GET_DEVICE");
            if (error != 0)
                malformed("implausible error code " + std::to_string(error));
            if (header.nlmsg_type == NLMSG_DONE) {
                if (!stream.empty())
                    malformed("data after NLMSG_DONE");
                break;
            }
            continue;
        }
        parser.add_message(message);
    }
    return parser.finish();
}

}  // namespace wgmesh::wg
