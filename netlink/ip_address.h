// Value types for IP addresses and prefixes, parsed once at the edge so that nothing
// inside the project is a raw string that could be malformed.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wgmesh::netlink {

enum class Family : std::uint8_t { kIpv4 = AF_INET, kIpv6 = AF_INET6 };

class IpAddress {
  public:
    IpAddress() = default;
    static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
    static IpAddress v4(const in_addr& addr);
    static IpAddress v6(const in6_addr& addr);
    // Raw network-order bytes: 4 for IPv4, 16 for IPv6; anything else is rejected.
    static std::optional<IpAddress> from_bytes(Family family, const void* bytes, std::size_t len);
    static std::optional<IpAddress> parse(std::string_view text);
    // Throws std::invalid_argument naming the text.
    static IpAddress parse_or_throw(std::string_view text);

    Family family() const { return family_; }
    bool is_v4() const { return family_ == Family::kIpv4; }
    bool is_v6() const { return family_ == Family::kIpv6; }
    int family_af() const { return static_cast<int>(family_); }
    std::size_t size() const { return is_v4() ? 4 : 16; }
    const std::uint8_t* data() const { return bytes_.data(); }
    std::uint8_t* data() { return bytes_.data(); }
    bool is_unspecified() const;
    // Text form: dotted quad, or RFC 5952 for IPv6.
    std::string to_string() const;

    auto operator<=>(const IpAddress&) const = default;
    bool operator==(const IpAddress&) const = default;

  private:
    Family family_ = Family::kIpv4;
    std::array<std::uint8_t, 16> bytes_{};
};

// A network: address with host bits cleared and a prefix length.
class Prefix {
  public:
    Prefix() = default;
    // Clears host bits; throws std::invalid_argument on a length beyond the family's width.
    Prefix(const IpAddress& address, unsigned length);
    // Accepts "a.b.c.d/n", "x::/n", a bare address (host prefix) and "default" (0.0.0.0/0).
    static std::optional<Prefix> parse(std::string_view text);
    static Prefix parse_or_throw(std::string_view text);

    const IpAddress& address() const { return address_; }
    unsigned length() const { return length_; }
    Family family() const { return address_.family(); }
    bool contains(const IpAddress& address) const;
    std::string to_string() const;

    auto operator<=>(const Prefix&) const = default;
    bool operator==(const Prefix&) const = default;

  private:
    IpAddress address_;
    unsigned length_ = 0;
};

// An address with the prefix length of the interface address it belongs to
// (host bits kept), as in "10.42.0.7/16".
struct InterfaceAddress {
    IpAddress address;
    unsigned prefix_length = 0;

    static std::optional<InterfaceAddress> parse(std::string_view text);
    std::string to_string() const;
    auto operator<=>(const InterfaceAddress&) const = default;
    bool operator==(const InterfaceAddress&) const = default;
};

}  // namespace wgmesh::netlink

template <>
struct std::hash<wgmesh::netlink::IpAddress> {
    std::size_t operator()(const wgmesh::netlink::IpAddress& a) const noexcept;
};
template <>
struct std::hash<wgmesh::netlink::Prefix> {
    std::size_t operator()(const wgmesh::netlink::Prefix& p) const noexcept;
};

namespace wgmesh::netlink {

// An endpoint as bind(), connect() and sendto() take it.
struct Sockaddr {
    sockaddr_storage storage{};
    socklen_t length = 0;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// An IP endpoint: "192.0.2.1:51820" or "[2001:db8::1]:51820".
struct SocketAddress {
    IpAddress address;
    std::uint16_t port = 0;

    static std::optional<SocketAddress> parse(std::string_view text);
    std::string to_string() const;
    Sockaddr to_sockaddr() const;
    auto operator<=>(const SocketAddress&) const = default;
    bool operator==(const SocketAddress&) const = default;
};

}  // namespace wgmesh::netlink
