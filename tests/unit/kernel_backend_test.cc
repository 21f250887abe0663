// Golden bytes for the kernel WireGuard generic-netlink messages. The expected layouts were
// written out by hand from <linux/wireguard.h> and the netlink attribute rules (4-byte
// aligned TLVs, little-endian on x86, NLA_F_NESTED on nests, ports in network order).
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>

#include <cstring>
#include <system_error>

#include "wg/kernel_messages.h"

namespace wgmesh::wg {
namespace {

using netlink::Prefix;
using netlink::SocketAddress;

constexpr std::uint16_t kFamily = 0x1b;

std::vector<std::uint8_t> hex(std::string text) {
    std::string digits;
    for (char c : text)
        if (c != ' ' && c != '\n')
            digits += c;
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < digits.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
    return out;
}

std::string repeat(const std::string& byte, int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out += byte;
    return out;
}

Key key_of(std::uint8_t seed) {
    std::array<std::uint8_t, Key::kSize> bytes{};
    bytes.fill(seed);
    return Key(bytes);
}

TEST(KernelMessages, ListenPortOnlyGoldenBytes) {
    DeviceUpdate u;
    u.listen_port = 51820;
    const auto messages = build_set_device_messages("wg0", kFamily, u);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0], hex("24000000 1b00 0500 00000000 00000000"  // len 36, REQUEST|ACK
                               "01 01 0000"                            // SET_DEVICE, version 1
                               "0800 0200 77673000"                    // IFNAME "wg0\0"
                               "0600 0600 6cca 0000"));                // LISTEN_PORT 51820
}

TEST(KernelMessages, NewPeerGoldenBytes) {
    DeviceUpdate u;
    PeerUpdate p;
    p.public_key = key_of(0x01);
    p.endpoint = SocketAddress::parse("192.0.2.1:51820");
    p.persistent_keepalive = 25;
    p.allowed_ips = {Prefix::parse_or_throw("10.0.0.0/24")};
    u.peers.push_back(p);
    const auto messages = build_set_device_messages("wg0", kFamily, u);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0],
              hex("84000000 1b00 0500 00000000 00000000"  // 132 bytes
                  "01010000"
                  "0800 0200 77673000"  // IFNAME
                  "6800 0880"           // PEERS (nested), 104 bytes
                  "6400 0080"           //  peer 0 (nested), 100 bytes
                  "2400 0100" +
                  repeat("01", 32) +                               //   PUBLIC_KEY
                  "1400 0400 0200 ca6c c0000201 0000000000000000"  // ENDPOINT sockaddr_in
                  "0600 0500 1900 0000"                            //   KEEPALIVE 25
                  "2000 0980"               //   ALLOWEDIPS (nested), 32 bytes
                  "1c00 0080"               //    ip 0 (nested), 28 bytes
                  "0600 0100 0200 0000"     //     FAMILY AF_INET
                  "0800 0200 0a000000"      //     IPADDR 10.0.0.0
                  "0500 0300 18 000000"));  //     CIDR_MASK 24
}

TEST(KernelMessages, RemovalAndReplaceGoldenBytes) {
    DeviceUpdate u;
    PeerUpdate removal;
    removal.public_key = key_of(0x02);
    removal.remove = true;
    u.peers.push_back(removal);
    PeerUpdate change;
    change.public_key = key_of(0x03);
    change.preshared_key = Key{};  // clear the PSK
    change.replace_allowed_ips = true;
    change.allowed_ips = {Prefix::parse_or_throw("fd00::/64")};
    u.peers.push_back(change);
    const auto messages = build_set_device_messages("wg0", kFamily, u);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0],
              hex("d0000000 1b00 0500 00000000 00000000"  // 208 bytes
                  "01010000"
                  "0800 0200 77673000"
                  "b400 0880"  // PEERS, 180 bytes
                  "3000 0080"  //  peer 0, 48 bytes
                  "2400 0100" +
                  repeat("02", 32) +
                  "0800 0300 01000000"  //   FLAGS REMOVE_ME
                  "8000 0080"           //  peer 1, 128 bytes
                  "2400 0100" +
                  repeat("03", 32) +
                  "0800 0300 02000000"  //   FLAGS REPLACE_ALLOWEDIPS
                  "2400 0200" +
                  repeat("00", 32) +                            //   PRESHARED_KEY zero = clear
                  "2c00 0980"                                   //   ALLOWEDIPS, 44 bytes
                  "2800 0080"                                   //    ip 0, 40 bytes
                  "0600 0100 0a00 0000"                         //     FAMILY AF_INET6
                  "1400 0200 fd000000000000000000000000000000"  // IPADDR fd00::
                  "0500 0300 40 000000"));                      //     CIDR_MASK 64
}

TEST(KernelMessages, EmptyUpdateGivesNoMessageAndNamesAreChecked) {
    EXPECT_TRUE(build_set_device_messages("wg0", kFamily, DeviceUpdate{}).empty());
    DeviceUpdate u;
    u.fwmark = 1;
    EXPECT_THROW(build_set_device_messages("this-name-is-too-long", kFamily, u),
                 std::invalid_argument);
    EXPECT_EQ(build_get_device_request("wg0", kFamily),
              hex("1c000000 1b00 0503 00000000 00000000"  // REQUEST|ACK|DUMP (0x305)
                  "00010000"                              // GET_DEVICE, version 1
                  "0800 0200 77673000"));
}

// ---- decoding SET messages back, to check how big updates are split

struct DecodedPeer {
    Key key;
    std::uint32_t flags = 0;
    bool head = false;  // PSK, endpoint or keepalive present
    std::vector<Prefix> ips;
};
struct DecodedSet {
    bool device_attrs = false;
    std::vector<DecodedPeer> peers;
};

template <typename F>
void walk(const std::uint8_t* data, std::size_t len, F&& f) {
    while (len >= 4) {
        nlattr a;
        std::memcpy(&a, data, 4);
        ASSERT_GE(a.nla_len, 4);
        ASSERT_LE(a.nla_len, len);
        f(a.nla_type & NLA_TYPE_MASK, data + 4, a.nla_len - 4u);
        const std::size_t step = std::min<std::size_t>(NLA_ALIGN(a.nla_len), len);
        data += step;
        len -= step;
    }
    ASSERT_EQ(len, 0u);
}

DecodedSet decode_set(const NetlinkMessage& m) {
    DecodedSet out;
    nlmsghdr h;
    std::memcpy(&h, m.data(), sizeof(h));
    EXPECT_EQ(h.nlmsg_len, m.size());
    EXPECT_EQ(h.nlmsg_type, kFamily);
    const std::size_t off = NLMSG_HDRLEN + GENL_HDRLEN;
    walk(m.data() + off, m.size() - off, [&](int type, const std::uint8_t* p, std::size_t n) {
        if (type == WGDEVICE_A_PRIVATE_KEY || type == WGDEVICE_A_LISTEN_PORT ||
            type == WGDEVICE_A_FWMARK)
            out.device_attrs = true;
        EXPECT_NE(type, WGDEVICE_A_FLAGS) << "REPLACE_PEERS must never be sent";
        if (type != WGDEVICE_A_PEERS)
            return;
        walk(p, n, [&](int, const std::uint8_t* pp, std::size_t pn) {
            DecodedPeer peer;
            walk(pp, pn, [&](int t, const std::uint8_t* q, std::size_t qn) {
                if (t == WGPEER_A_PUBLIC_KEY) {
                    std::array<std::uint8_t, 32> k;
                    std::memcpy(k.data(), q, 32);
                    peer.key = Key(k);
                } else if (t == WGPEER_A_FLAGS) {
                    std::memcpy(&peer.flags, q, 4);
                } else if (t == WGPEER_A_PRESHARED_KEY || t == WGPEER_A_ENDPOINT ||
                           t == WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL) {
                    peer.head = true;
                } else if (t == WGPEER_A_ALLOWEDIPS) {
                    walk(q, qn, [&](int, const std::uint8_t* r, std::size_t rn) {
                        std::uint16_t family = 0;
                        std::uint8_t cidr = 0;
                        std::vector<std::uint8_t> addr;
                        walk(r, rn, [&](int at, const std::uint8_t* s, std::size_t sn) {
                            if (at == WGALLOWEDIP_A_FAMILY)
                                std::memcpy(&family, s, 2);
                            if (at == WGALLOWEDIP_A_IPADDR)
                                addr.assign(s, s + sn);
                            if (at == WGALLOWEDIP_A_CIDR_MASK)
                                cidr = *s;
                        });
                        peer.ips.emplace_back(
                            *netlink::IpAddress::from_bytes(static_cast<netlink::Family>(family),
                                                            addr.data(), addr.size()),
                            cidr);
                    });
                }
            });
            out.peers.push_back(peer);
        });
    });
    return out;
}

DeviceUpdate big_update(int peers, int ips_per_peer) {
    DeviceUpdate u;
    u.private_key = key_of(0x77);
    u.listen_port = 51820;
    for (int i = 0; i < peers; ++i) {
        PeerUpdate p;
        std::array<std::uint8_t, 32> k{};
        k[0] = static_cast<std::uint8_t>(i);
        k[1] = static_cast<std::uint8_t>(i >> 8);
        k[31] = 0x55;
        p.public_key = Key(k);
        p.replace_allowed_ips = true;
        p.persistent_keepalive = 25;
        p.endpoint = SocketAddress::parse("[2001:db8::" + std::to_string(i + 1) + "]:51820");
        for (int j = 0; j < ips_per_peer; ++j)
            p.allowed_ips.push_back(Prefix(
                netlink::IpAddress::v4(10, static_cast<std::uint8_t>(i), j >> 8, j & 255), 32));
        u.peers.push_back(p);
    }
    return u;
}

// Reassembles the fragments and checks the splitting rules on the way.
void check_split(const DeviceUpdate& u, const std::vector<NetlinkMessage>& messages,
                 std::size_t limit) {
    std::vector<DecodedPeer> merged;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        ASSERT_LE(messages[i].size(), limit);
        const DecodedSet set = decode_set(messages[i]);
        EXPECT_EQ(set.device_attrs, i == 0) << "device attributes only in the first message";
        for (const auto& frag : set.peers) {
            if (!merged.empty() && merged.back().key == frag.key) {
                EXPECT_EQ(frag.flags, 0u) << "REPLACE_ALLOWEDIPS only in the first fragment";
                EXPECT_FALSE(frag.head);
                merged.back().ips.insert(merged.back().ips.end(), frag.ips.begin(), frag.ips.end());
            } else {
                merged.push_back(frag);
            }
        }
    }
    ASSERT_EQ(merged.size(), u.peers.size());
    for (std::size_t i = 0; i < merged.size(); ++i) {
        EXPECT_EQ(merged[i].key, u.peers[i].public_key);
        EXPECT_EQ(merged[i].flags, static_cast<std::uint32_t>(WGPEER_F_REPLACE_ALLOWEDIPS));
        EXPECT_TRUE(merged[i].head);
        EXPECT_EQ(merged[i].ips, u.peers[i].allowed_ips);
    }
}

TEST(KernelMessages, ThousandPeersSplitIntoFullMessages) {
    const DeviceUpdate u = big_update(1000, 2);
    const auto messages = build_set_device_messages("wg0", kFamily, u);
    // Each peer takes 4+36+8+32+8+4+2*28 = 148 bytes: about 55 per 8 KiB message.
    EXPECT_GE(messages.size(), 18u);
    EXPECT_LE(messages.size(), 20u);
    for (std::size_t i = 0; i + 1 < messages.size(); ++i)
        EXPECT_GT(messages[i].size(), kSetDeviceMessageSize - 200) << "message " << i;
    check_split(u, messages, kSetDeviceMessageSize);
}

TEST(KernelMessages, PeerAllowedIpsContinueInTheNextMessage) {
    const DeviceUpdate u = big_update(3, 700);  // one peer alone is larger than 8 KiB
    const auto messages = build_set_device_messages("wg0", kFamily, u);
    EXPECT_GE(messages.size(), 8u);
    check_split(u, messages, kSetDeviceMessageSize);
    for (std::size_t limit : {200u, 256u, 333u, 1024u}) {
        SCOPED_TRACE(limit);
        const auto small = build_set_device_messages("wg0", kFamily, big_update(4, 9), limit);
        check_split(big_update(4, 9), small, limit);
    }
    EXPECT_THROW(build_set_device_messages("wg0", kFamily, big_update(1, 1), 100),
                 std::invalid_argument);
}

// ---- GET_DEVICE dump parsing

// Hand-written attribute encoder for recorded dumps, independent of the code under test.
struct Writer {
    std::vector<std::uint8_t> bytes;
    std::vector<std::size_t> open;

    void raw(const void* p, std::size_t n) {
        const auto* b = static_cast<const std::uint8_t*>(p);
        bytes.insert(bytes.end(), b, b + n);
    }
    void pad() {
        while (bytes.size() % 4)
            bytes.push_back(0);
    }
    void attr(std::uint16_t type, const void* p, std::size_t n) {
        const std::uint16_t len = static_cast<std::uint16_t>(4 + n);
        raw(&len, 2);
        raw(&type, 2);
        raw(p, n);
        pad();
    }
    template <typename T>
    void scalar(std::uint16_t type, T v) {
        attr(type, &v, sizeof(v));
    }
    void begin(std::uint16_t type) {
        open.push_back(bytes.size());
        const std::uint16_t len = 0, t = type | NLA_F_NESTED;
        raw(&len, 2);
        raw(&t, 2);
    }
    void end() {
        const std::uint16_t len = static_cast<std::uint16_t>(bytes.size() - open.back());
        std::memcpy(&bytes[open.back()], &len, 2);
        open.pop_back();
    }
    void message_start(std::uint16_t type) {
        open.push_back(bytes.size());
        nlmsghdr h{0, type, NLM_F_MULTI, 7, 1234};
        raw(&h, sizeof(h));
        if (type == kFamily) {
            genlmsghdr g{WG_CMD_GET_DEVICE, 1, 0};
            raw(&g, sizeof(g));
        }
    }
    void message_end() {
        const std::uint32_t len = static_cast<std::uint32_t>(bytes.size() - open.back());
        std::memcpy(&bytes[open.back()], &len, 4);
        open.pop_back();
    }
    void key(std::uint16_t type, std::uint8_t seed) {
        std::array<std::uint8_t, 32> k;
        k.fill(seed);
        attr(type, k.data(), 32);
    }
    void allowed_ip(int family, const std::vector<std::uint8_t>& addr, std::uint8_t cidr) {
        begin(0);
        scalar<std::uint16_t>(WGALLOWEDIP_A_FAMILY, static_cast<std::uint16_t>(family));
        attr(WGALLOWEDIP_A_IPADDR, addr.data(), addr.size());
        scalar<std::uint8_t>(WGALLOWEDIP_A_CIDR_MASK, cidr);
        end();
    }
};

// Two messages and DONE, as the kernel sends a dump whose first peer's allowed IPs did not
// fit: peer 0x11 appears at the end of message 1 and again at the start of message 2.
std::vector<std::uint8_t> recorded_dump() {
    Writer w;
    w.message_start(kFamily);
    w.scalar<std::uint32_t>(WGDEVICE_A_IFINDEX, 5);
    w.attr(WGDEVICE_A_IFNAME, "wg0", 4);
    w.key(WGDEVICE_A_PRIVATE_KEY, 0x40);
    w.key(WGDEVICE_A_PUBLIC_KEY, 0x41);
    w.scalar<std::uint16_t>(WGDEVICE_A_LISTEN_PORT, 51820);
    w.scalar<std::uint32_t>(WGDEVICE_A_FWMARK, 0);
    w.begin(WGDEVICE_A_PEERS);
    w.begin(0);
    w.key(WGPEER_A_PUBLIC_KEY, 0x11);
    w.key(WGPEER_A_PRESHARED_KEY, 0x00);
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(4500);
    sin6.sin6_addr.s6_addr[0] = 0x20;
    sin6.sin6_addr.s6_addr[1] = 0x01;
    sin6.sin6_addr.s6_addr[15] = 0x09;
    w.attr(WGPEER_A_ENDPOINT, &sin6, sizeof(sin6));
    w.scalar<std::uint16_t>(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
    const std::int64_t handshake[2] = {1700000000, 5};
    w.attr(WGPEER_A_LAST_HANDSHAKE_TIME, handshake, sizeof(handshake));
    w.scalar<std::uint64_t>(WGPEER_A_RX_BYTES, 1000);
    w.scalar<std::uint64_t>(WGPEER_A_TX_BYTES, 2000);
    w.scalar<std::uint32_t>(WGPEER_A_PROTOCOL_VERSION, 1);
    w.begin(WGPEER_A_ALLOWEDIPS);
    w.allowed_ip(AF_INET, {10, 0, 0, 1}, 32);
    w.end();
    w.end();
    w.end();
    w.message_end();

    w.message_start(kFamily);
    w.begin(WGDEVICE_A_PEERS);
    w.begin(0);
    w.key(WGPEER_A_PUBLIC_KEY, 0x11);  // same peer, continued
    w.begin(WGPEER_A_ALLOWEDIPS);
    w.allowed_ip(AF_INET6, {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 64);
    w.end();
    w.end();
    w.begin(0);
    w.key(WGPEER_A_PUBLIC_KEY, 0x22);
    w.key(WGPEER_A_PRESHARED_KEY, 0x33);
    w.end();
    w.end();
    w.message_end();

    w.message_start(NLMSG_DONE);
    const std::int32_t ok = 0;
    w.raw(&ok, 4);
    w.message_end();
    return w.bytes;
}

TEST(KernelMessages, MultiPartDumpCoalescesTheContinuedPeer) {
    const auto dump = recorded_dump();
    const DeviceConfig d = parse_get_device_messages(dump, kFamily);
    EXPECT_EQ(d.private_key, key_of(0x40));
    EXPECT_EQ(d.listen_port, 51820);
    EXPECT_EQ(d.fwmark, 0u);
    ASSERT_EQ(d.peers.size(), 2u);
    const PeerConfig& a = d.peers[0];
    EXPECT_EQ(a.public_key, key_of(0x11));
    EXPECT_FALSE(a.preshared_key);
    EXPECT_EQ(a.endpoint, SocketAddress::parse("[2001::9]:4500"));
    EXPECT_EQ(a.persistent_keepalive, 25);
    EXPECT_EQ(a.last_handshake_unix, 1700000000);
    EXPECT_EQ(a.rx_bytes, 1000u);
    EXPECT_EQ(a.tx_bytes, 2000u);
    EXPECT_EQ(a.allowed_ips, (std::vector<Prefix>{Prefix::parse_or_throw("10.0.0.1/32"),
                                                  Prefix::parse_or_throw("fd00::/64")}));
    EXPECT_EQ(d.peers[1].public_key, key_of(0x22));
    EXPECT_EQ(d.peers[1].preshared_key, key_of(0x33));
}

TEST(KernelMessages, KernelErrorsInTheDumpAreSystemErrors) {
    Writer w;
    w.message_start(NLMSG_ERROR);
    const std::int32_t error = -ENODEV;
    w.raw(&error, 4);
    nlmsghdr original{};
    w.raw(&original, sizeof(original));
    w.message_end();
    try {
        parse_get_device_messages(w.bytes, kFamily);
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENODEV);
    }
}

TEST(KernelMessages, MaliciousDumpsAreErrors) {
    // A peer that re-appears after another peer is not a continuation.
    Writer dup;
    dup.message_start(kFamily);
    dup.begin(WGDEVICE_A_PEERS);
    for (std::uint8_t seed : {0x11, 0x22, 0x11}) {
        dup.begin(0);
        dup.key(WGPEER_A_PUBLIC_KEY, seed);
        dup.end();
    }
    dup.end();
    dup.message_end();
    EXPECT_THROW(parse_get_device_messages(dup.bytes, kFamily), std::runtime_error);

    const auto bad_peer = [](auto&& body) {
        Writer w;
        w.message_start(kFamily);
        w.begin(WGDEVICE_A_PEERS);
        w.begin(0);
        body(w);
        w.end();
        w.end();
        w.message_end();
        return w.bytes;
    };
    const std::vector<std::vector<std::uint8_t>> cases = {
        bad_peer([](Writer&) {}),  // no public key
        bad_peer([](Writer& w) { w.attr(WGPEER_A_PUBLIC_KEY, "short", 5); }),
        bad_peer([](Writer& w) {
            w.key(WGPEER_A_PUBLIC_KEY, 1);
            w.scalar<std::uint32_t>(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);  // u16 expected
        }),
        bad_peer([](Writer& w) {
            w.key(WGPEER_A_PUBLIC_KEY, 1);
            w.attr(WGPEER_A_ENDPOINT, "\x02\x00\x00", 3);
        }),
        bad_peer([](Writer& w) {
            w.key(WGPEER_A_PUBLIC_KEY, 1);
            w.begin(WGPEER_A_ALLOWEDIPS);
            w.allowed_ip(AF_INET, {10, 0, 0, 1}, 33);  // mask too long
            w.end();
        }),
        bad_peer([](Writer& w) {
            w.key(WGPEER_A_PUBLIC_KEY, 1);
            w.begin(WGPEER_A_ALLOWEDIPS);
            w.allowed_ip(AF_INET6, {10, 0, 0, 1}, 8);  // v6 family, 4-byte address
            w.end();
        }),
        bad_peer([](Writer& w) {
            w.key(WGPEER_A_PUBLIC_KEY, 1);
            w.begin(WGPEER_A_ALLOWEDIPS);
            w.begin(0);
            w.scalar<std::uint8_t>(WGALLOWEDIP_A_CIDR_MASK, 8);  // no family, no address
            w.end();
            w.end();
        }),
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        EXPECT_THROW(parse_get_device_messages(cases[i], kFamily), std::runtime_error)
            << "case " << i;
    }
    // An attribute whose length runs past its nest.
    auto overrun = recorded_dump();
    overrun[NLMSG_HDRLEN + GENL_HDRLEN] = 0xff;  // IFINDEX length 65535
    overrun[NLMSG_HDRLEN + GENL_HDRLEN + 1] = 0xff;
    EXPECT_THROW(parse_get_device_messages(overrun, kFamily), std::runtime_error);
    // A message of another family.
    EXPECT_THROW(parse_get_device_messages(recorded_dump(), kFamily + 1), std::runtime_error);
}

TEST(KernelMessages, EveryTruncationAndByteFlipIsHandled) {
    const auto dump = recorded_dump();
    for (std::size_t len = 0; len < dump.size(); ++len) {
        const std::span<const std::uint8_t> prefix(dump.data(), len);
        try {
            parse_get_device_messages(prefix, kFamily);
        } catch (const std::runtime_error&) {
        }
    }
    for (std::size_t i = 0; i < dump.size(); ++i) {
        for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
            auto copy = dump;
            copy[i] ^= flip;
            try {
                parse_get_device_messages(copy, kFamily);
            } catch (const std::runtime_error&) {
            }
        }
    }
}

TEST(KernelMessages, SetMessagesOfARoundTripParseBack) {
    // What we would send to create a device, seen as if the kernel dumped it back.
    DeviceUpdate u = big_update(40, 3);
    u.fwmark = 9;
    auto messages = build_set_device_messages("wg0", kFamily, u, 1024);
    GetDeviceDumpParser parser(kFamily);
    for (auto& m : messages) {
        m[NLMSG_HDRLEN] = WG_CMD_GET_DEVICE;  // same attribute layout
        parser.add_message(m);
    }
    const DeviceConfig d = parser.finish();
    EXPECT_EQ(d.private_key, u.private_key);
    EXPECT_EQ(d.fwmark, 9u);
    ASSERT_EQ(d.peers.size(), 40u);
    for (std::size_t i = 0; i < d.peers.size(); ++i) {
        EXPECT_EQ(d.peers[i].public_key, u.peers[i].public_key);
        EXPECT_EQ(d.peers[i].allowed_ips, u.peers[i].allowed_ips);
        EXPECT_EQ(d.peers[i].endpoint, u.peers[i].endpoint);
    }
}

}  // namespace
}  // namespace wgmesh::wg
