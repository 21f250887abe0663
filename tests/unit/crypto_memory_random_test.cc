// The helpers for secret bytes and the kernel CSPRNG.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "wg/crypto/memory.h"
#include "wg/crypto/random.h"

namespace wgmesh::wg::crypto {
namespace {

TEST(CryptoMemory, ConstantTimeEqualComparesEveryByte) {
    std::array<std::uint8_t, 32> a{};
    for (std::size_t i = 0; i < a.size(); ++i) {
        a[i] = static_cast<std::uint8_t>(i + 1);
    }
    EXPECT_TRUE(constant_time_equal(a, a));
    for (std::size_t i = 0; i < a.size(); ++i) {
        for (std::uint8_t bit = 1; bit != 0; bit = static_cast<std::uint8_t>(bit << 1)) {
            auto b = a;
            b[i] ^= bit;
            EXPECT_FALSE(constant_time_equal(a, b)) << i << " " << int{bit};
        }
    }
    EXPECT_FALSE(constant_time_equal(a, std::span(a).first(31)));
    EXPECT_TRUE(constant_time_equal({}, {}));
}

TEST(CryptoMemory, WipeZeroesArraysAndStrings) {
    std::array<std::uint8_t, 32> key;
    key.fill(0xab);
    wipe(key);
    EXPECT_TRUE(std::all_of(key.begin(), key.end(), [](std::uint8_t b) { return b == 0; }));
    std::string text = "a secret that must not linger";
    wipe(text);
    EXPECT_EQ(text, std::string(29, '\0'));
    std::array<std::uint32_t, 4> words{1, 2, 3, 4};
    wipe(words);
    EXPECT_EQ(words, (std::array<std::uint32_t, 4>{}));
}

TEST(CryptoRandom, FillsBuffersOfEverySizeWithDistinctBytes) {
    std::set<std::vector<std::uint8_t>> seen;
    for (int i = 0; i < 100; ++i) {
        std::vector<std::uint8_t> bytes(32);
        random_bytes(bytes);
        seen.insert(bytes);
    }
    EXPECT_EQ(seen.size(), 100u);
    std::vector<std::uint8_t> empty;
    random_bytes(empty);
    // Larger than one getrandom call may return: the loop fills it to the end (64 zero
    // bytes at the end of a full fill have a chance of 2^-512).
    std::vector<std::uint8_t> large(4 << 20);
    random_bytes(large);
    const std::size_t tail_zeros = static_cast<std::size_t>(
        std::find_if(large.rbegin(), large.rend(), [](std::uint8_t b) { return b != 0; }) -
        large.rbegin());
    EXPECT_LT(tail_zeros, 64u);
}

}  // namespace
}  // namespace wgmesh::wg::crypto
