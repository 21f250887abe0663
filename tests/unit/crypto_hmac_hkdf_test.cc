// HMAC-SHA256 against every RFC 4231 test case, HKDF-SHA256 against RFC 5869 cases 1-3.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "wg/crypto/hkdf_sha256.h"
#include "wg/crypto/hmac_sha256.h"
#include "wg/crypto/memory.h"
#include "wg/encoding.h"

namespace wgmesh::wg::crypto {
namespace {

std::vector<std::uint8_t> repeated(std::uint8_t byte, std::size_t count) {
    return std::vector<std::uint8_t>(count, byte);
}

std::vector<std::uint8_t> counting(unsigned from, unsigned to_inclusive) {
    std::vector<std::uint8_t> bytes;
    for (unsigned value = from; value <= to_inclusive; ++value) {
        bytes.push_back(static_cast<std::uint8_t>(value));
    }
    return bytes;
}

std::string mac_hex(std::span<const std::uint8_t> key, std::string_view message) {
    return hex_encode(hmac_sha256(key, byte_view(message)));
}

TEST(HmacSha256, Rfc4231TestCases) {
    EXPECT_EQ(mac_hex(repeated(0x0b, 20), "Hi There"),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(mac_hex(byte_view("Jefe"), "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(hex_encode(hmac_sha256(repeated(0xaa, 20), repeated(0xdd, 50))),
              "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    EXPECT_EQ(hex_encode(hmac_sha256(counting(0x01, 0x19), repeated(0xcd, 50))),
              "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    // Case 5 specifies only the first 128 bits of the output.
    EXPECT_EQ(mac_hex(repeated(0x0c, 20), "Test With Truncation").substr(0, 32),
              "a3b6167473100ee06e0c796c2955552b");
    // Cases 6 and 7: a 131-byte key, longer than a block, is hashed first.
    EXPECT_EQ(
        mac_hex(repeated(0xaa, 131), "Test Using Larger Than Block-Size Key - Hash Key First"),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    EXPECT_EQ(mac_hex(repeated(0xaa, 131),
                      "This is a test using a larger than block-size key and a larger than "
                      "block-size data. The key needs to be hashed before being used by the HMAC "
                      "algorithm."),
              "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(HmacSha256, PreparedKeyGivesTheSameMacEveryTime) {
    const HmacSha256 keyed(byte_view("Jefe"));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(hex_encode(keyed.mac(byte_view("what do ya want for nothing?"))),
                  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}

struct HkdfCase {
    std::vector<std::uint8_t> ikm;
    std::vector<std::uint8_t> salt;
    std::vector<std::uint8_t> info;
    std::size_t length;
    std::string prk;
    std::string okm;
};

TEST(HkdfSha256, Rfc5869TestCases) {
    const std::vector<HkdfCase> cases = {
        {repeated(0x0b, 22), counting(0x00, 0x0c), counting(0xf0, 0xf9), 42,
         "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
        // Long inputs: 80-byte IKM, salt and info, 82 bytes of output (three blocks).
        {counting(0x00, 0x4f), counting(0x60, 0xaf), counting(0xb0, 0xff), 82,
         "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41"
         "c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
        // Empty salt and info.
        {repeated(0x0b, 22),
         {},
         {},
         42,
         "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const HkdfCase& c = cases[i];
        const Sha256Digest prk = hkdf_sha256_extract(c.salt, c.ikm);
        EXPECT_EQ(hex_encode(prk), c.prk) << "case " << i + 1;
        std::vector<std::uint8_t> okm(c.length);
        hkdf_sha256_expand(prk, c.info, okm);
        EXPECT_EQ(hex_encode(okm), c.okm) << "case " << i + 1;
        std::vector<std::uint8_t> one_call(c.length);
        hkdf_sha256(c.salt, c.ikm, c.info, one_call);
        EXPECT_EQ(one_call, okm) << "case " << i + 1;
        // A shorter output is a prefix of a longer one.
        std::vector<std::uint8_t> shorter(c.length - 11);
        hkdf_sha256(c.salt, c.ikm, c.info, shorter);
        EXPECT_TRUE(std::equal(shorter.begin(), shorter.end(), okm.begin())) << "case " << i + 1;
    }
}

TEST(HkdfSha256, OutputLengthIsBoundedBy255Blocks) {
    const std::vector<std::uint8_t> prk(32, 1);
    std::vector<std::uint8_t> longest(kHkdfSha256MaxOutput);
    hkdf_sha256_expand(prk, {}, longest);
    std::vector<std::uint8_t> too_long(kHkdfSha256MaxOutput + 1);
    EXPECT_THROW(hkdf_sha256_expand(prk, {}, too_long), std::invalid_argument);
    EXPECT_THROW(hkdf_sha256({}, prk, {}, too_long), std::invalid_argument);
}

}  // namespace
}  // namespace wgmesh::wg::crypto
