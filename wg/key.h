// A WireGuard key: 32 bytes, base64 or hex in and out. Private keys are wiped when
// destroyed; comparison is constant-time so key lookups leak nothing through timing.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wgmesh::wg {

class Key {
  public:
    static constexpr std::size_t kSize = 32;

    Key() = default;
    explicit Key(const std::array<std::uint8_t, kSize>& bytes) : bytes_(bytes) {}
    Key(const Key&) = default;
    Key& operator=(const Key&) = default;
    ~Key();

    // Accepts 44-character base64 or 64-character hex.
    static std::optional<Key> parse(std::string_view text);
    static Key parse_or_throw(std::string_view text);
    // A new private key from the CSPRNG, clamped for X25519 like `wg genkey`.
    static Key generate_private();
    // The X25519 public key of this private key.
    Key public_key() const;

    std::string to_base64() const;
    std::string to_hex() const;
    bool is_zero() const;
    const std::array<std::uint8_t, kSize>& bytes() const { return bytes_; }

    bool operator==(const Key& other) const;
    // Exactly the ordering of the base64 texts, which the mesh's tie-breaks are defined on
    // ("the lower key wins"), computed on the bytes without encoding anything: std::map and
    // std::set of keys are in every hot path. Not constant-time: for public keys.
    bool operator<(const Key& other) const;

  private:
    std::array<std::uint8_t, kSize> bytes_{};
};

}  // namespace wgmesh::wg

template <>
struct std::hash<wgmesh::wg::Key> {
    std::size_t operator()(const wgmesh::wg::Key& k) const noexcept;
};
