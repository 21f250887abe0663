#include "netlink/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace wgmesh::netlink {

namespace {

std::optional<unsigned> parse_length(std::string_view text, unsigned max) {
    unsigned value = 0;
    if (text.empty() || text.size() > 3) {
        return std::nullopt;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > max) {
        return std::nullopt;
    }
    return value;
}

unsigned max_length(Family family) {
    return family == Family::kIpv4 ? 32 : 128;
}

// "address[/length]": the address and the length (the family's width when absent).
std::optional<InterfaceAddress> parse_address_and_length(std::string_view text) {
    const auto slash = text.find('/');
    auto address = IpAddress::parse(text.substr(0, slash));
    if (!address) {
        return std::nullopt;
    }
    unsigned length = max_length(address->family());
    if (slash != std::string_view::npos) {
        auto parsed = parse_length(text.substr(slash + 1), length);
        if (!parsed) {
            return std::nullopt;
        }
        length = *parsed;
    }
    return InterfaceAddress{*address, length};
}

}  // namespace

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress ip;
    ip.family_ = Family::kIpv4;
    ip.bytes_[0] = a;
    ip.bytes_[1] = b;
    ip.bytes_[2] = c;
    ip.bytes_[3] = d;
    return ip;
}

IpAddress IpAddress::v4(const in_addr& addr) {
    return *from_bytes(Family::kIpv4, &addr, sizeof(addr));
}

IpAddress IpAddress::v6(const in6_addr& addr) {
    return *from_bytes(Family::kIpv6, &addr, sizeof(addr));
}

std::optional<IpAddress> IpAddress::from_bytes(Family family, const void* bytes, std::size_t len) {
    if (len != (family == Family::kIpv4 ? 4u : 16u)) {
        return std::nullopt;
    }
    IpAddress ip;
    ip.family_ = family;
    std::memcpy(ip.bytes_.data(), bytes, len);
    return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    // inet_pton needs a NUL-terminated string; longer input is never a valid address.
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
        return std::nullopt;
    }
    char buffer[INET6_ADDRSTRLEN] = {};
    std::memcpy(buffer, text.data(), text.size());
    IpAddress ip;
    if (inet_pton(AF_INET, buffer, ip.bytes_.data()) == 1) {
        ip.family_ = Family::kIpv4;
        return ip;
    }
    // Zone indices ("fe80::1%eth0") are not addresses we route to.
    if (inet_pton(AF_INET6, buffer, ip.bytes_.data()) == 1) {
        ip.family_ = Family::kIpv6;
        return ip;
    }
    return std::nullopt;
}

IpAddress IpAddress::parse_or_throw(std::string_view text) {
    if (auto ip = parse(text)) {
        return *ip;
    }
    throw std::invalid_argument("invalid IP address '" + std::string(text) + "'");
}

bool IpAddress::is_unspecified() const {
    return std::all_of(bytes_.begin(), bytes_.begin() + size(), [](auto b) { return b == 0; });
}

std::string IpAddress::to_string() const {
    char buffer[INET6_ADDRSTRLEN] = {};
    // glibc's inet_ntop prints RFC 5952 form (lowercase, longest zero run compressed).
    inet_ntop(family_af(), bytes_.data(), buffer, sizeof(buffer));
    return buffer;
}

Prefix::Prefix(const IpAddress& address, unsigned length) : address_(address), length_(length) {
    if (length > max_length(address.family())) {
        throw std::invalid_argument("prefix length " + std::to_string(length) + " too long for " +
                                    address.to_string());
    }
    std::uint8_t* bytes = address_.data();
    for (std::size_t i = 0; i < address_.size(); ++i) {
        const unsigned bit = static_cast<unsigned>(i) * 8;
        if (bit >= length) {
            bytes[i] = 0;
        } else if (length - bit < 8) {
            bytes[i] &= static_cast<std::uint8_t>(0xff << (8 - (length - bit)));
        }
    }
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
    if (text == "default") {
        return Prefix(IpAddress::v4(0, 0, 0, 0), 0);
    }
    auto parsed = parse_address_and_length(text);
    if (!parsed) {
        return std::nullopt;
    }
    return Prefix(parsed->address, parsed->prefix_length);
}

Prefix Prefix::parse_or_throw(std::string_view text) {
    if (auto prefix = parse(text)) {
        return *prefix;
    }
    throw std::invalid_argument("invalid network '" + std::string(text) + "'");
}

bool Prefix::contains(const IpAddress& address) const {
    return address.family() == family() && Prefix(address, length_).address_ == address_;
}

std::string Prefix::to_string() const {
    return address_.to_string() + "/" + std::to_string(length_);
}

std::optional<InterfaceAddress> InterfaceAddress::parse(std::string_view text) {
    return parse_address_and_length(text);
}

std::string InterfaceAddress::to_string() const {
    return address.to_string() + "/" + std::to_string(prefix_length);
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon + 1 >= text.size() || text.size() - colon > 6) {
        return std::nullopt;
    }
    std::string_view host = text.substr(0, colon);
    const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) {
        host = host.substr(1, host.size() - 2);
    }
    auto address = IpAddress::parse(host);
    // An IPv6 endpoint must be bracketed, an IPv4 one must not be.
    if (!address || address->is_v6() != bracketed) {
        return std::nullopt;
    }
    unsigned port = 0;
    const std::string_view digits = text.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
        return std::nullopt;
    }
    return SocketAddress{*address, static_cast<std::uint16_t>(port)};
}

std::string SocketAddress::to_string() const {
    const std::string host = address.to_string();
    return (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Sockaddr SocketAddress::to_sockaddr() const {
    Sockaddr native;
    if (address.is_v4()) {
        auto& in = reinterpret_cast<sockaddr_in&>(native.storage);
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        std::memcpy(&in.sin_addr, address.data(), 4);
        native.length = sizeof(in);
    } else {
        auto& in6 = reinterpret_cast<sockaddr_in6&>(native.storage);
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(port);
        std::memcpy(&in6.sin6_addr, address.data(), 16);
        native.length = sizeof(in6);
    }
    return native;
}

}  // namespace wgmesh::netlink

std::size_t std::hash<wgmesh::netlink::IpAddress>::operator()(
    const wgmesh::netlink::IpAddress& a) const noexcept {
    // FNV-1a over family and bytes: cheap and good enough for route-table sized sets.
    std::size_t h = 1469598103934665603ull ^ static_cast<std::size_t>(a.family());
    for (std::size_t i = 0; i < a.size(); ++i) {
        h = (h ^ a.data()[i]) * 1099511628211ull;
    }
    return h;
}

std::size_t std::hash<wgmesh::netlink::Prefix>::operator()(
    const wgmesh::netlink::Prefix& p) const noexcept {
    return std::hash<wgmesh::netlink::IpAddress>()(p.address()) * 31 + p.length();
}
