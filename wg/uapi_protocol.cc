#include "wg/uapi_protocol.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <system_error>
#include <unordered_set>

namespace wgmesh::wg {

namespace {

// errno values are small; anything beyond this is not an errno but garbage.
constexpr std::uint64_t kMaxErrno = 4095;

[[noreturn]] void fail(std::size_t line_number, std::string_view what) {
    throw UapiProtocolError("malformed UAPI reply, line " + std::to_string(line_number) + ": " +
                            std::string(what));
}

std::string quoted(std::string_view text) {
    constexpr std::size_t kShown = 80;
    std::string out = "'";
    for (char c : text.substr(0, kShown))
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out + (text.size() > kShown ? "...'" : "'");
}

template <typename T>
T parse_number(std::size_t line, std::string_view key, std::string_view value,
               T max = std::numeric_limits<T>::max()) {
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (value.empty() || value.front() == '+' || value.front() == '-' || ec != std::errc() ||
        end != value.data() + value.size() || number > static_cast<std::uint64_t>(max)) {
        fail(line, std::string(key) + " is not a number in range: " + quoted(value));
    }
    return static_cast<T>(number);
}

Key parse_hex_key(std::size_t line, std::string_view key, std::string_view value) {
    // Key::parse also takes base64, which the protocol never sends.
    std::optional<Key> parsed;
    if (value.size() == 2 * Key::kSize)
        parsed = Key::parse(value);
    if (!parsed)
        fail(line, std::string(key) + " is not a 64-digit hex key");
    return *parsed;
}

// errno=N: 0, or an errno value (wireguard-go sends it negative; accept either sign).
int parse_errno(std::size_t line, std::string_view value) {
    const bool negative = !value.empty() && value.front() == '-';
    const auto magnitude =
        parse_number<std::uint64_t>(line, "errno", negative ? value.substr(1) : value, kMaxErrno);
    return static_cast<int>(magnitude);
}

// Splits the reply into its lines, checks the framing (every line ends in '\n', a blank
// line ends the reply, "errno=N" is the last line), and returns the body lines and errno.
struct Framed {
    std::vector<std::string_view> lines;
    int error = 0;
};

Framed frame_reply(std::string_view reply) {
    if (reply.size() > kMaxUapiReplyBytes)
        throw UapiProtocolError("UAPI reply exceeds " + std::to_string(kMaxUapiReplyBytes) +
                                " bytes");
    Framed framed;
    std::size_t pos = 0;
    std::size_t line_number = 0;
    std::optional<int> error;
    for (;;) {
        ++line_number;
        const std::size_t newline = reply.find('\n', pos);
        if (newline == std::string_view::npos)
            fail(line_number, "reply ends without its terminating blank line");
        const std::string_view line = reply.substr(pos, newline - pos);
        pos = newline + 1;
        if (line.size() > kMaxUapiLineBytes)
            fail(line_number, "line longer than " + std::to_string(kMaxUapiLineBytes) + " bytes");
        if (line.empty())
            break;
        if (error)
            fail(line_number, "data after the errno line");
        if (line.starts_with("errno=")) {
            error = parse_errno(line_number, line.substr(6));
            continue;
        }
        framed.lines.push_back(line);
    }
    if (pos != reply.size())
        fail(line_number, "bytes after the terminating blank line");
    if (!error)
        fail(line_number, "reply has no errno line");
    framed.error = *error;
    return framed;
}

void throw_device_errno(int error, std::string_view operation) {
    throw std::system_error(error, std::generic_category(),
                            "WireGuard device refused UAPI " + std::string(operation) +
                                " (errno=" + std::to_string(error) + ")");
}

netlink::Prefix parse_allowed_ip(std::size_t line, std::string_view value) {
    const auto slash = value.find('/');
    auto prefix = slash == std::string_view::npos ? std::nullopt : netlink::Prefix::parse(value);
    if (!prefix)
        fail(line, "allowed_ip is not a prefix: " + quoted(value));
    return *prefix;
}

class GetReplyParser {
  public:
    void line(std::size_t number, std::string_view text) {
        const auto eq = text.find('=');
        if (eq == std::string_view::npos || eq == 0)
            fail(number, "expected key=value, got " + quoted(text));
        const std::string_view key = text.substr(0, eq);
        const std::string_view value = text.substr(eq + 1);
        if (key == "public_key") {
            start_peer(number, value);
        } else if (!peer_) {
            device_line(number, key, value);
        } else {
            peer_line(number, key, value);
        }
    }

    DeviceConfig finish() { return std::move(device_); }

  private:
    void start_peer(std::size_t number, std::string_view value) {
        PeerConfig peer;
        peer.public_key = parse_hex_key(number, "public_key", value);
        if (!seen_.insert(peer.public_key).second)
            fail(number, "peer " + peer.public_key.to_base64() + " listed twice");
        device_.peers.push_back(std::move(peer));
        peer_ = &device_.peers.back();
    }

    void device_line(std::size_t number, std::string_view key, std::string_view value) {
        if (key == "private_key") {
            Key private_key = parse_hex_key(number, key, value);
            if (!private_key.is_zero())
                device_.private_key = private_key;
        } else if (key == "listen_port") {
            device_.listen_port = parse_number<std::uint16_t>(number, key, value);
        } else if (key == "fwmark") {
            device_.fwmark = parse_number<std::uint32_t>(number, key, value);
        } else {
            fail(number, "unknown device key " + quoted(key));
        }
    }

    void peer_line(std::size_t number, std::string_view key, std::string_view value) {
        PeerConfig& peer = *peer_;
        if (key == "preshared_key") {
            Key psk = parse_hex_key(number, key, value);
            if (psk.is_zero())
                peer.preshared_key.reset();
            else
                peer.preshared_key = psk;
        } else if (key == "endpoint") {
            peer.endpoint = netlink::SocketAddress::parse(value);
            if (!peer.endpoint)
                fail(number, "endpoint is not ip:port: " + quoted(value));
        } else if (key == "allowed_ip") {
            peer.allowed_ips.push_back(parse_allowed_ip(number, value));
        } else if (key == "persistent_keepalive_interval") {
            peer.persistent_keepalive = parse_number<std::uint16_t>(number, key, value);
        } else if (key == "last_handshake_time_sec") {
            peer.last_handshake_unix = parse_number<std::int64_t>(number, key, value);
        } else if (key == "last_handshake_time_nsec") {
            parse_number<std::uint32_t>(number, key, value, 999'999'999);
        } else if (key == "rx_bytes") {
            peer.rx_bytes = parse_number<std::uint64_t>(number, key, value);
        } else if (key == "tx_bytes") {
            peer.tx_bytes = parse_number<std::uint64_t>(number, key, value);
        } else if (key == "protocol_version") {
            if (value != "1")
                fail(number, "unsupported protocol_version " + quoted(value));
        } else {
            fail(number, "unknown peer key " + quoted(key));
        }
    }

    DeviceConfig device_;
    PeerConfig* peer_ = nullptr;  // device_.peers.back(), re-pointed after every push_back
    std::unordered_set<Key> seen_;
};

void append_line(std::string& out, std::string_view key, std::string_view value) {
    out.append(key);
    out += '=';
    out.append(value);
    out += '\n';
}

}  // namespace

std::string format_uapi_set_request(const DeviceUpdate& update) {
    std::string out = "set=1\n";
    if (update.private_key)
        append_line(out, "private_key", update.private_key->to_hex());
    if (update.listen_port)
        append_line(out, "listen_port", std::to_string(*update.listen_port));
    if (update.fwmark)
        append_line(out, "fwmark", std::to_string(*update.fwmark));
    for (const auto& peer : update.peers) {
        append_line(out, "public_key", peer.public_key.to_hex());
        if (peer.remove) {
            append_line(out, "remove", "true");
            continue;
        }
        if (peer.preshared_key)
            append_line(out, "preshared_key", peer.preshared_key->to_hex());
        if (peer.endpoint)
            append_line(out, "endpoint", peer.endpoint->to_string());
        if (peer.replace_allowed_ips)
            append_line(out, "replace_allowed_ips", "true");
        for (const auto& prefix : peer.allowed_ips)
            append_line(out, "allowed_ip", prefix.to_string());
        // Last, as turning keepalive on sends a packet at once (Tailscale's writer does the
        // same): the peer is complete by then.
        if (peer.persistent_keepalive)
            append_line(out, "persistent_keepalive_interval",
                        std::to_string(*peer.persistent_keepalive));
    }
    out += '\n';
    return out;
}

std::optional<std::size_t> uapi_reply_length(std::string_view received) {
    if (received.starts_with('\n'))
        return 1;
    const std::size_t end = received.find("\n\n");
    if (end == std::string_view::npos)
        return std::nullopt;
    return end + 2;
}

DeviceConfig parse_uapi_get_reply(std::string_view reply) {
    const Framed framed = frame_reply(reply);
    if (framed.error != 0)
        throw_device_errno(framed.error, "get");
    GetReplyParser parser;
    std::size_t number = 0;
    for (const auto& line : framed.lines)
        parser.line(++number, line);
    return parser.finish();
}

void parse_uapi_set_reply(std::string_view reply) {
    const Framed framed = frame_reply(reply);
    if (!framed.lines.empty())
        fail(1, "unexpected data before errno in a set reply: " + quoted(framed.lines.front()));
    if (framed.error != 0)
        throw_device_errno(framed.error, "set");
}

}  // namespace wgmesh::wg
