#include "wg/crypto/x25519.h"

#include "wg/crypto/memory.h"

namespace wgmesh::wg::crypto {

namespace {

using Limb = std::uint64_t;
using Wide = unsigned __int128;

// An element of GF(2^255 - 19) as five 51-bit limbs, least significant first: value =
// sum(limb[i] * 2^(51 i)). Limbs may run a few bits over 51 between operations (see the
// bounds at fe_sub and fe_mul); fe_to_bytes reduces fully.
struct FieldElement {
    std::array<Limb, 5> limb;
};

constexpr Limb kLimbMask = (Limb{1} << 51) - 1;
constexpr Limb kA24 = 121665;  // (486662 - 2) / 4, RFC 7748 section 5

Limb load_le64(const std::uint8_t* p) {
    Limb value = 0;
    for (int i = 7; i >= 0; --i) {
        value = (value << 8) | p[i];
    }
    return value;
}

void store_le64(std::uint8_t* p, Limb value) {
    for (int i = 0; i < 8; ++i) {
        p[i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
}

// Bits 0..254 of the little-endian bytes; bit 255 is dropped, as RFC 7748 requires of u.
// A value of p or more stays unreduced here and is reduced by the arithmetic.
FieldElement fe_from_bytes(const X25519Bytes& bytes) {
    const Limb w0 = load_le64(bytes.data());
    const Limb w1 = load_le64(bytes.data() + 8);
    const Limb w2 = load_le64(bytes.data() + 16);
    const Limb w3 = load_le64(bytes.data() + 24);
    return {{
        w0 & kLimbMask,
        ((w0 >> 51) | (w1 << 13)) & kLimbMask,
        ((w1 >> 38) | (w2 << 26)) & kLimbMask,
        ((w2 >> 25) | (w3 << 39)) & kLimbMask,
        (w3 >> 12) & kLimbMask,
    }};
}

// Carries every limb into the next; the carry out of the top limb is worth 2^255 = 19.
void fe_carry(FieldElement& h) {
    for (std::size_t i = 0; i < 4; ++i) {
        h.limb[i + 1] += h.limb[i] >> 51;
        h.limb[i] &= kLimbMask;
    }
    h.limb[0] += 19 * (h.limb[4] >> 51);
    h.limb[4] &= kLimbMask;
}

// The canonical encoding: the value reduced into [0, p), little endian.
X25519Bytes fe_to_bytes(FieldElement h) {
    fe_carry(h);
    fe_carry(h);
    // Now every limb is below 2^51 except limb 0, below 2^51 + 19: h < 2^255 + 19 < 2p.
    // h >= p exactly when h + 19 carries into bit 255; then subtract p by adding 19 and
    // dropping bit 255.
    Limb q = (h.limb[0] + 19) >> 51;
    for (std::size_t i = 1; i < 5; ++i) {
        q = (h.limb[i] + q) >> 51;
    }
    h.limb[0] += 19 * q;
    for (std::size_t i = 0; i < 4; ++i) {
        h.limb[i + 1] += h.limb[i] >> 51;
        h.limb[i] &= kLimbMask;
    }
    h.limb[4] &= kLimbMask;
    X25519Bytes out;
    store_le64(out.data(), h.limb[0] | (h.limb[1] << 51));
    store_le64(out.data() + 8, (h.limb[1] >> 13) | (h.limb[2] << 38));
    store_le64(out.data() + 16, (h.limb[2] >> 26) | (h.limb[3] << 25));
    store_le64(out.data() + 24, (h.limb[3] >> 39) | (h.limb[4] << 12));
    return out;
}

FieldElement fe_add(const FieldElement& a, const FieldElement& b) {
    FieldElement r;
    for (std::size_t i = 0; i < 5; ++i) {
        r.limb[i] = a.limb[i] + b.limb[i];
    }
    return r;
}

// a - b computed as a + 2p - b so no limb goes negative: b's limbs must be below 2^52 - 38,
// which holds for everything fe_mul or fe_from_bytes returns (the only operands here).
FieldElement fe_sub(const FieldElement& a, const FieldElement& b) {
    constexpr Limb kTwoPLow = 2 * ((Limb{1} << 51) - 19);
    constexpr Limb kTwoPHigh = 2 * ((Limb{1} << 51) - 1);
    FieldElement r;
    r.limb[0] = a.limb[0] + kTwoPLow - b.limb[0];
    for (std::size_t i = 1; i < 5; ++i) {
        r.limb[i] = a.limb[i] + kTwoPHigh - b.limb[i];
    }
    return r;
}

// Schoolbook product; limb products that land at 2^255 and above wrap around times 19.
// Inputs with limbs below 2^54 keep every column sum below 2^115; the result's limbs are
// below 2^51 except limb 1, below 2^51 + 2^13.
FieldElement fe_mul(const FieldElement& a, const FieldElement& b) {
    const auto& x = a.limb;
    const auto& y = b.limb;
    const Limb y1_19 = 19 * y[1];
    const Limb y2_19 = 19 * y[2];
    const Limb y3_19 = 19 * y[3];
    const Limb y4_19 = 19 * y[4];
    const auto product = [](Limb l, Limb r) { return static_cast<Wide>(l) * r; };
    Wide t0 = product(x[0], y[0]) + product(x[1], y4_19) + product(x[2], y3_19) +
              product(x[3], y2_19) + product(x[4], y1_19);
    Wide t1 = product(x[0], y[1]) + product(x[1], y[0]) + product(x[2], y4_19) +
              product(x[3], y3_19) + product(x[4], y2_19);
    Wide t2 = product(x[0], y[2]) + product(x[1], y[1]) + product(x[2], y[0]) +
              product(x[3], y4_19) + product(x[4], y3_19);
    Wide t3 = product(x[0], y[3]) + product(x[1], y[2]) + product(x[2], y[1]) +
              product(x[3], y[0]) + product(x[4], y4_19);
    Wide t4 = product(x[0], y[4]) + product(x[1], y[3]) + product(x[2], y[2]) +
              product(x[3], y[1]) + product(x[4], y[0]);
    t1 += t0 >> 51;
    t2 += t1 >> 51;
    t3 += t2 >> 51;
    t4 += t3 >> 51;
    const Wide low = (t0 & kLimbMask) + 19 * (t4 >> 51);
    FieldElement r;
    r.limb[0] = static_cast<Limb>(low) & kLimbMask;
    r.limb[1] = (static_cast<Limb>(t1) & kLimbMask) + static_cast<Limb>(low >> 51);
    r.limb[2] = static_cast<Limb>(t2) & kLimbMask;
    r.limb[3] = static_cast<Limb>(t3) & kLimbMask;
    r.limb[4] = static_cast<Limb>(t4) & kLimbMask;
    return r;
}

FieldElement fe_square(const FieldElement& a) {
    return fe_mul(a, a);
}

FieldElement fe_square_times(FieldElement a, int times) {
    for (int i = 0; i < times; ++i) {
        a = fe_square(a);
    }
    return a;
}

// z^(p-2) = z^(2^255 - 21) = 1/z (Fermat). The exponent is public: a fixed chain of 254
// squarings and 11 multiplications.
FieldElement fe_invert(const FieldElement& z) {
    const FieldElement z2 = fe_square(z);
    const FieldElement z9 = fe_mul(fe_square_times(z2, 2), z);
    const FieldElement z11 = fe_mul(z9, z2);
    const FieldElement z_5_0 = fe_mul(fe_square(z11), z9);  // z^(2^5 - 1)
    const FieldElement z_10_0 = fe_mul(fe_square_times(z_5_0, 5), z_5_0);
    const FieldElement z_20_0 = fe_mul(fe_square_times(z_10_0, 10), z_10_0);
    const FieldElement z_40_0 = fe_mul(fe_square_times(z_20_0, 20), z_20_0);
    const FieldElement z_50_0 = fe_mul(fe_square_times(z_40_0, 10), z_10_0);
    const FieldElement z_100_0 = fe_mul(fe_square_times(z_50_0, 50), z_50_0);
    const FieldElement z_200_0 = fe_mul(fe_square_times(z_100_0, 100), z_100_0);
    const FieldElement z_250_0 = fe_mul(fe_square_times(z_200_0, 50), z_50_0);
    return fe_mul(fe_square_times(z_250_0, 5), z11);  // z^(2^255 - 2^5 + 11)
}

// Swaps a and b when `swap` is 1, leaves them when 0, without a branch on it.
void fe_conditional_swap(FieldElement& a, FieldElement& b, Limb swap) {
    const Limb mask = 0 - swap;
    for (std::size_t i = 0; i < 5; ++i) {
        const Limb difference = mask & (a.limb[i] ^ b.limb[i]);
        a.limb[i] ^= difference;
        b.limb[i] ^= difference;
    }
}

void wipe(FieldElement& element) {
    wipe_bytes(element.limb.data(), sizeof element.limb);
}

}  // namespace

X25519Bytes x25519(const X25519Bytes& scalar, const X25519Bytes& u) {
    // RFC 7748 section 5: clear the 3 low bits (a multiple of the cofactor 8), clear bit 255
    // and set bit 254 (a fixed ladder length).
    X25519Bytes k = scalar;
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;

    const FieldElement x1 = fe_from_bytes(u);
    FieldElement x2{{1, 0, 0, 0, 0}};
    FieldElement z2{{0, 0, 0, 0, 0}};
    FieldElement x3 = x1;
    FieldElement z3{{1, 0, 0, 0, 0}};
    const FieldElement a24{{kA24, 0, 0, 0, 0}};
    Limb swap = 0;
    // The Montgomery ladder of RFC 7748 section 5: the same operations for every bit.
    for (int t = 254; t >= 0; --t) {
        const Limb bit = (k[static_cast<std::size_t>(t) / 8] >> (t % 8)) & 1;
        swap ^= bit;
        fe_conditional_swap(x2, x3, swap);
        fe_conditional_swap(z2, z3, swap);
        swap = bit;

        const FieldElement a = fe_add(x2, z2);
        const FieldElement aa = fe_square(a);
        const FieldElement b = fe_sub(x2, z2);
        const FieldElement bb = fe_square(b);
        const FieldElement e = fe_sub(aa, bb);
        const FieldElement c = fe_add(x3, z3);
        const FieldElement d = fe_sub(x3, z3);
        const FieldElement da = fe_mul(d, a);
        const FieldElement cb = fe_mul(c, b);
        x3 = fe_square(fe_add(da, cb));
        z3 = fe_mul(x1, fe_square(fe_sub(da, cb)));
        x2 = fe_mul(aa, bb);
        z2 = fe_mul(e, fe_add(aa, fe_mul(a24, e)));
    }
    fe_conditional_swap(x2, x3, swap);
    fe_conditional_swap(z2, z3, swap);

    const X25519Bytes out = fe_to_bytes(fe_mul(x2, fe_invert(z2)));
    wipe(k);
    wipe(x2);
    wipe(z2);
    wipe(x3);
    wipe(z3);
    return out;
}

X25519Bytes x25519_base(const X25519Bytes& scalar) {
    constexpr X25519Bytes kBasePoint{9};
    return x25519(scalar, kBasePoint);
}

}  // namespace wgmesh::wg::crypto
