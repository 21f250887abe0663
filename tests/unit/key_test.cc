#include "wg/key.h"

#include <gtest/gtest.h>

#include <csignal>
#include <set>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "wg/encoding.h"

namespace wgmesh::wg {
namespace {

Key from_hex(const std::string& hex) {
    auto key = Key::parse(hex);
    EXPECT_TRUE(key) << hex;
    return key.value_or(Key{});
}

// RFC 7748 section 6.1: Alice's and Bob's key pairs.
TEST(Key, PublicKeyMatchesRfc7748Vectors) {
    EXPECT_EQ(from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                  .public_key()
                  .to_hex(),
              "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    EXPECT_EQ(from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
                  .public_key()
                  .to_hex(),
              "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
}

TEST(Key, Base64AndHexRoundTrip) {
    for (int i = 0; i < 50; ++i) {
        const Key key = Key::generate_private();
        const std::string b64 = key.to_base64();
        const std::string hex = key.to_hex();
        ASSERT_EQ(b64.size(), 44u);
        ASSERT_EQ(b64.back(), '=');
        ASSERT_EQ(hex.size(), 64u);
        EXPECT_EQ(Key::parse(b64), key);
        EXPECT_EQ(Key::parse(hex), key);
    }
    const Key known = from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    EXPECT_EQ(known.to_base64(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    EXPECT_EQ(Key::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), known);
    // Uppercase hex is accepted, and printed back in lowercase.
    EXPECT_EQ(Key::parse("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"),
              known);
}

TEST(Key, RejectsMalformedText) {
    const std::string good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const std::string bad[] = {
        "",
        good.substr(0, 43),                                // too short
        good + "=",                                        // too long
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",    // no padding
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=",    // non-canonical last bits
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=",    // bad alphabet
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  // trailing newline
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd====",    // wrong length when decoded
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",  // bad hex digit
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",   // odd hex
        " 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",  // space
    };
    for (const auto& text : bad) {
        EXPECT_FALSE(Key::parse(text)) << "'" << text << "'";
    }
    EXPECT_THROW(Key::parse_or_throw("nope"), std::invalid_argument);
}

TEST(Encoding, StrictBase64AndHex) {
    EXPECT_EQ(base64_encode(std::vector<std::uint8_t>{'f', 'o', 'o', 'b'}), "Zm9vYg==");
    EXPECT_EQ(base64_decode("Zm9vYg==").value(), (std::vector<std::uint8_t>{'f', 'o', 'o', 'b'}));
    EXPECT_FALSE(base64_decode("Zm9vYh=="));  // bits under the padding
    EXPECT_FALSE(base64_decode("Zm9=Yg=="));  // padding in the middle
    EXPECT_FALSE(base64_decode("Zm9vY"));
    EXPECT_EQ(hex_encode(std::vector<std::uint8_t>{0x00, 0xab, 0xff}), "00abff");
    EXPECT_FALSE(hex_decode("0x00"));
    EXPECT_FALSE(hex_decode("abc"));
}

TEST(Key, GeneratedPrivateKeysAreClampedAndDistinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const Key key = Key::generate_private();
        EXPECT_EQ(key.bytes()[0] & 7, 0);
        EXPECT_EQ(key.bytes()[31] & 128, 0);
        EXPECT_EQ(key.bytes()[31] & 64, 64);
        EXPECT_FALSE(key.is_zero());
        seen.insert(key.to_base64());
    }
    EXPECT_EQ(seen.size(), 200u);
}

TEST(Key, ConstantTimeEqualityAndZero) {
    const Key a = Key::generate_private();
    Key b = a;
    EXPECT_EQ(a, b);
    EXPECT_FALSE(a == a.public_key());
    EXPECT_TRUE(Key{}.is_zero());
}

// The mesh's tie-breaks are defined on the base64 text ("the lower key wins"); operator<
// computes that order on the bytes. Random keys, and keys that differ in exactly one digit
// (every position, every pair of digit values, the padded last digit included).
TEST(Key, OrderingIsExactlyTheBase64TextOrdering) {
    const auto agrees = [](const Key& a, const Key& b) {
        return (a < b) == (a.to_base64() < b.to_base64()) &&
               (b < a) == (b.to_base64() < a.to_base64());
    };
    std::vector<Key> keys;
    for (int i = 0; i < 300; ++i) {
        keys.push_back(Key::generate_private());
    }
    for (const auto& a : keys) {
        for (std::size_t j = 0; j < 20; ++j) {
            EXPECT_TRUE(agrees(a, keys[j])) << a.to_base64() << " " << keys[j].to_base64();
        }
    }
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::string base = keys[0].to_base64();
    for (std::size_t position = 0; position < 43; ++position) {
        // The last digit carries 4 bits: only every fourth digit value is valid there.
        const std::size_t step = position == 42 ? 4 : 1;
        for (std::size_t x = 0; x < 64; x += step) {
            for (std::size_t y = 0; y < 64; y += step * 7) {
                std::string text_a = base;
                std::string text_b = base;
                text_a[position] = alphabet[x];
                text_b[position] = alphabet[y];
                const auto a = Key::parse(text_a);
                const auto b = Key::parse(text_b);
                ASSERT_TRUE(a && b) << text_a << " " << text_b;
                EXPECT_TRUE(agrees(*a, *b)) << text_a << " " << text_b;
            }
        }
    }
    // Keys that share a prefix of every length and differ everywhere after it: the first
    // differing digit decides, whatever the digits after it hold.
    for (std::size_t shared = 1; shared < 43; ++shared) {
        for (std::size_t j = 1; j < 40; ++j) {
            std::string text_a = keys[j].to_base64();
            std::string text_b = keys[j + 1].to_base64();
            text_a.replace(0, shared, base, 0, shared);
            text_b.replace(0, shared, base, 0, shared);
            const auto a = Key::parse(text_a);
            const auto b = Key::parse(text_b);
            ASSERT_TRUE(a && b) << text_a << " " << text_b;
            EXPECT_TRUE(agrees(*a, *b)) << text_a << " " << text_b;
        }
    }
    EXPECT_FALSE(keys[0] < keys[0]);
}

std::string wgmesh_keys(const std::string& command, const std::string& input = "") {
    return test::run_checked({WGMESH_BINARY, command}, input);
}

TEST(KeyCli, GenkeyPrintsOneClampedBase64Line) {
    const std::string out = wgmesh_keys("genkey");
    ASSERT_EQ(out.size(), 45u);
    ASSERT_EQ(out.back(), '\n');
    const auto key = Key::parse(out.substr(0, 44));
    ASSERT_TRUE(key);
    EXPECT_EQ(key->bytes()[0] & 7, 0);
    EXPECT_EQ(key->bytes()[31] & 0xc0, 0x40);
}

TEST(KeyCli, PubkeyTrimsTrailingWhitespaceAndRejectsGarbage) {
    // pubkey stops reading oversized input and exits; feeding it must not kill the test.
    std::signal(SIGPIPE, SIG_IGN);
    const std::string priv = "d6SDvBSnYpDFh61PWp+1KfTZ28oUDwOjHd6EJZsSnnM=";
    const std::string pub = Key::parse(priv)->public_key().to_base64() + "\n";
    EXPECT_EQ(wgmesh_keys("pubkey", priv), pub);
    EXPECT_EQ(wgmesh_keys("pubkey", priv + "\n"), pub);
    EXPECT_EQ(wgmesh_keys("pubkey", priv + " \r\n\n"), pub);
    const std::vector<std::string> bad_inputs = {"", "hello\n", priv.substr(1) + "\n", priv + "x\n",
                                                 std::string(100000, 'A')};
    for (const std::string& bad : bad_inputs) {
        const auto result = test::run_command({WGMESH_BINARY, "pubkey"}, bad);
        EXPECT_EQ(result.exit_code, 1) << bad.substr(0, 60);
        EXPECT_TRUE(result.out.empty());
        EXPECT_NE(result.err.find("pubkey"), std::string::npos) << result.err;
    }
    EXPECT_EQ(test::run_command({WGMESH_BINARY, "genkey", "extra"}).exit_code, 1);
    EXPECT_EQ(test::run_command({WGMESH_BINARY, "pubkey", "--help"}).exit_code, 0);
    EXPECT_EQ(test::run_command({WGMESH_BINARY, "genkey", "--help"}).exit_code, 0);
}

TEST(KeyCli, InterchangeableWithWireguardTools) {
    if (!test::program_exists("wg"))
        GTEST_SKIP() << "wg (wireguard-tools) is not installed: interchangeability not checked";
    for (int i = 0; i < 5; ++i) {
        // wg's private key through both pubkey implementations.
        const std::string wg_priv = test::run_checked({"wg", "genkey"});
        EXPECT_EQ(wgmesh_keys("pubkey", wg_priv), test::run_checked({"wg", "pubkey"}, wg_priv));
        // Our private key through both, too.
        const std::string our_priv = wgmesh_keys("genkey");
        EXPECT_EQ(test::run_checked({"wg", "pubkey"}, our_priv), wgmesh_keys("pubkey", our_priv));
    }
}

}  // namespace
}  // namespace wgmesh::wg
