// SHA-256 against FIPS 180-4 / NIST example vectors, and incremental hashing against
// one-shot hashing at every split.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wg/crypto/sha256.h"
#include "wg/encoding.h"

namespace wgmesh::wg::crypto {
namespace {

std::string hex(const Sha256Digest& digest) {
    return hex_encode(digest);
}

// Bytes that are neither constant nor periodic within a block.
std::vector<std::uint8_t> pattern(std::size_t size) {
    std::vector<std::uint8_t> bytes(size);
    for (std::size_t i = 0; i < size; ++i) {
        bytes[i] = static_cast<std::uint8_t>(i * 31 + 7);
    }
    return bytes;
}

TEST(Sha256, NistVectors) {
    EXPECT_EQ(hex(Sha256::hash("")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hex(Sha256::hash("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // 448 bits: the padding no longer fits the block, so it takes a second one.
    EXPECT_EQ(hex(Sha256::hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(hex(Sha256::hash("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                               "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, OneMillionAs) {
    EXPECT_EQ(hex(Sha256::hash(std::string(1000000, 'a'))),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // The same million bytes fed in uneven pieces that straddle block boundaries.
    Sha256 hasher;
    const std::string piece(997, 'a');
    std::size_t fed = 0;
    while (fed + piece.size() <= 1000000) {
        hasher.update(piece);
        fed += piece.size();
    }
    hasher.update(std::string(1000000 - fed, 'a'));
    EXPECT_EQ(hex(hasher.finish()),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Every length from 0 to 200 bytes (every padding case: 55, 56, 63, 64 and 119, 120 bytes
// among them), pinned by one digest over all 201 digests, computed with Python's hashlib.
TEST(Sha256, EveryLengthUpTo200) {
    Sha256 chain;
    for (std::size_t size = 0; size <= 200; ++size) {
        chain.update(Sha256::hash(pattern(size)));
    }
    EXPECT_EQ(hex(chain.finish()),
              "2596dc78bf91fcc2d7cdba569d85e7c20f5d24bdc74fb082da12c7272515aa28");
}

TEST(Sha256, IncrementalUpdatesAgreeWithOneShotAtEverySplit) {
    const std::vector<std::uint8_t> message = pattern(200);
    const std::span<const std::uint8_t> all(message);
    const Sha256Digest expected = Sha256::hash(all);
    for (std::size_t first = 0; first <= message.size(); ++first) {
        for (std::size_t second = first; second <= message.size(); ++second) {
            Sha256 hasher;
            hasher.update(all.subspan(0, first));
            hasher.update(all.subspan(first, second - first));
            hasher.update(all.subspan(second));
            ASSERT_EQ(hex(hasher.finish()), hex(expected)) << first << " " << second;
        }
    }
    // One byte at a time.
    Sha256 bytewise;
    for (std::uint8_t byte : message) {
        bytewise.update(std::span(&byte, 1));
    }
    EXPECT_EQ(bytewise.finish(), expected);
}

TEST(Sha256, CopyForksTheState) {
    Sha256 prefix;
    prefix.update("abcdbcdecdefdefgefghfghighijhijk");
    Sha256 fork = prefix;
    fork.update("ijkljklmklmnlmnomnopnopq");
    prefix.update("something else");
    EXPECT_EQ(hex(fork.finish()),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(prefix.finish(), Sha256::hash("abcdbcdecdefdefgefghfghighijhijksomething else"));
}

}  // namespace
}  // namespace wgmesh::wg::crypto
