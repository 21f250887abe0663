// X25519 against RFC 7748 (sections 5.2 and 6.1), its input rules for u, and `wgmesh
// pubkey` against `wg pubkey` (wireguard-tools' own Curve25519) on random keys.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/process.h"
#include "wg/crypto/random.h"
#include "wg/crypto/x25519.h"
#include "wg/encoding.h"
#include "wg/key.h"

namespace wgmesh::wg::crypto {
namespace {

X25519Bytes from_hex(std::string_view hex) {
    const auto bytes = hex_decode(hex);
    X25519Bytes out{};
    EXPECT_TRUE(bytes && bytes->size() == out.size()) << hex;
    if (bytes && bytes->size() == out.size()) {
        std::copy(bytes->begin(), bytes->end(), out.begin());
    }
    return out;
}

std::string x25519_hex(std::string_view scalar, std::string_view u) {
    return hex_encode(x25519(from_hex(scalar), from_hex(u)));
}

TEST(X25519, Rfc7748Section5Vectors) {
    EXPECT_EQ(x25519_hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
              "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    // This u has its top bit set, which X25519 must ignore.
    EXPECT_EQ(x25519_hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
              "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

// k = u = 9; each round computes X25519(k, u), then u = old k and k = the result.
X25519Bytes iterate(int rounds) {
    X25519Bytes k{9};
    X25519Bytes u{9};
    for (int i = 0; i < rounds; ++i) {
        const X25519Bytes result = x25519(k, u);
        u = k;
        k = result;
    }
    return k;
}

TEST(X25519, Rfc7748IteratedVector) {
    EXPECT_EQ(hex_encode(iterate(1)),
              "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    EXPECT_EQ(hex_encode(iterate(1000)),
              "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

// Minutes of CPU: run with --gtest_also_run_disabled_tests.
TEST(X25519, DISABLED_Rfc7748IteratedVectorOneMillion) {
    EXPECT_EQ(hex_encode(iterate(1000000)),
              "7c3911e0ab2586fd864497297e575e6f3bc601c0883c30df5f4dd2d24f665424");
}

TEST(X25519, Rfc7748Section6DiffieHellman) {
    const auto alice = from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const auto bob = from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    const auto alice_public = x25519_base(alice);
    const auto bob_public = x25519_base(bob);
    EXPECT_EQ(hex_encode(alice_public),
              "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    EXPECT_EQ(hex_encode(bob_public),
              "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const std::string shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    EXPECT_EQ(hex_encode(x25519(alice, bob_public)), shared);
    EXPECT_EQ(hex_encode(x25519(bob, alice_public)), shared);
}

// RFC 7748 section 5: the scalar is clamped, so the bits clamping sets or clears do not
// change the result.
TEST(X25519, ScalarIsClamped) {
    auto scalar = from_hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
    const auto u = from_hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    const auto expected = x25519(scalar, u);
    scalar[0] ^= 7;
    scalar[31] ^= 0x80;
    scalar[31] &= static_cast<std::uint8_t>(~0x40);
    EXPECT_EQ(x25519(scalar, u), expected);
}

// RFC 7748 section 5: implementations mask u's most significant bit and accept
// non-canonical values (p to 2^255 - 1), which are reduced modulo p.
TEST(X25519, NonCanonicalUIsMaskedAndReduced) {
    const auto scalar =
        from_hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
    const X25519Bytes nine{9};
    // p + 9 = 2^255 - 10, with and without the top bit.
    auto p_plus_9 = from_hex("f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    EXPECT_EQ(x25519(scalar, p_plus_9), x25519_base(scalar));
    p_plus_9[31] |= 0x80;
    EXPECT_EQ(x25519(scalar, p_plus_9), x25519(scalar, nine));
    // u = p is 0, and every multiple of the point 0 is 0; so is u = p + 1 (which is 1)
    // against u = 1.
    const auto p = from_hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    EXPECT_EQ(x25519(scalar, p), X25519Bytes{});
    const auto p_plus_1 =
        from_hex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    EXPECT_EQ(x25519(scalar, p_plus_1), x25519(scalar, X25519Bytes{1}));
    // Every value from p to 2^255 - 1 against its reduction (0 to 18), and each with the top
    // bit set as well.
    for (std::uint8_t excess = 0; excess < 19; ++excess) {
        X25519Bytes non_canonical = p;
        non_canonical[0] = static_cast<std::uint8_t>(0xed + excess);
        const X25519Bytes reduced{excess};
        EXPECT_EQ(x25519(scalar, non_canonical), x25519(scalar, reduced)) << int{excess};
        non_canonical[31] |= 0x80;
        EXPECT_EQ(x25519(scalar, non_canonical), x25519(scalar, reduced)) << int{excess};
    }
    // Top bit on an ordinary u, the RFC's first vector.
    const auto scalar1 =
        from_hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
    auto u1 = from_hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    u1[31] |= 0x80;
    EXPECT_EQ(hex_encode(x25519(scalar1, u1)),
              "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
}

TEST(X25519, OutputIsCanonical) {
    // Results are reduced below p: the top bit is never set, over many random inputs.
    for (int i = 0; i < 200; ++i) {
        X25519Bytes scalar;
        X25519Bytes u;
        random_bytes(scalar);
        random_bytes(u);
        const auto out = x25519(scalar, u);
        EXPECT_EQ(out[31] & 0x80, 0);
        // Shared secrets agree both ways for random key pairs.
        const auto a_public = x25519_base(scalar);
        const auto b_public = x25519_base(u);
        EXPECT_EQ(x25519(scalar, b_public), x25519(u, a_public));
    }
}

// wireguard-tools computes public keys with its own Curve25519: 50 random 32-byte strings
// (not clamped: both sides must clamp) through `wg pubkey` and `wgmesh pubkey`.
TEST(X25519, WgmeshPubkeyAgreesWithWgPubkey) {
    if (!test::program_exists("wg"))
        GTEST_SKIP() << "wg (wireguard-tools) is not installed: interoperability not checked";
    for (int i = 0; i < 50; ++i) {
        X25519Bytes bytes;
        random_bytes(bytes);
        const std::string private_key = Key(bytes).to_base64() + "\n";
        const std::string ours = test::run_checked({WGMESH_BINARY, "pubkey"}, private_key);
        EXPECT_EQ(ours, test::run_checked({"wg", "pubkey"}, private_key)) << private_key;
        EXPECT_EQ(ours, Key(x25519_base(bytes)).to_base64() + "\n");
    }
}

}  // namespace
}  // namespace wgmesh::wg::crypto
