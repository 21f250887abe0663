#include "wg/uapi_protocol.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "wg/uapi_backend.h"

namespace wgmesh::wg {
namespace {

using netlink::Prefix;
using netlink::SocketAddress;

const std::string kPub1 = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a";
const std::string kPsk = "188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52";
const std::string kPriv = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba520270";
const std::string kPub2 = "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceae61f4b3fa4";

// What wireguard-go answers to get=1 (device/uapi.go IpcGetOperation), two peers.
const std::string kGetReply = "private_key=" + kPriv +
                              "\n"
                              "listen_port=51820\n"
                              "fwmark=42\n"
                              "public_key=" +
                              kPub1 +
                              "\n"
                              "preshared_key=" +
                              kPsk +
                              "\n"
                              "protocol_version=1\n"
                              "endpoint=[2001:db8::1]:51820\n"
                              "last_handshake_time_sec=1700000000\n"
                              "last_handshake_time_nsec=123456789\n"
                              "tx_bytes=38333\n"
                              "rx_bytes=2224\n"
                              "persistent_keepalive_interval=25\n"
                              "allowed_ip=10.0.0.1/32\n"
                              "allowed_ip=fd00::/64\n"
                              "public_key=" +
                              kPub2 +
                              "\n"
                              "preshared_key=" +
                              std::string(64, '0') +
                              "\n"
                              "protocol_version=1\n"
                              "last_handshake_time_sec=0\n"
                              "last_handshake_time_nsec=0\n"
                              "tx_bytes=0\n"
                              "rx_bytes=0\n"
                              "persistent_keepalive_interval=0\n"
                              "errno=0\n"
                              "\n";

TEST(UapiProtocol, ParsesAGetReply) {
    const DeviceConfig d = parse_uapi_get_reply(kGetReply);
    EXPECT_EQ(d.private_key, Key::parse(kPriv));
    EXPECT_EQ(d.listen_port, 51820);
    EXPECT_EQ(d.fwmark, 42u);
    ASSERT_EQ(d.peers.size(), 2u);
    const PeerConfig& a = d.peers[0];
    EXPECT_EQ(a.public_key, *Key::parse(kPub1));
    EXPECT_EQ(a.preshared_key, Key::parse(kPsk));
    EXPECT_EQ(a.endpoint, SocketAddress::parse("[2001:db8::1]:51820"));
    EXPECT_EQ(a.last_handshake_unix, 1700000000);
    EXPECT_EQ(a.tx_bytes, 38333u);
    EXPECT_EQ(a.rx_bytes, 2224u);
    EXPECT_EQ(a.persistent_keepalive, 25);
    EXPECT_EQ(a.allowed_ips, (std::vector<Prefix>{Prefix::parse_or_throw("10.0.0.1/32"),
                                                  Prefix::parse_or_throw("fd00::/64")}));
    const PeerConfig& b = d.peers[1];
    EXPECT_FALSE(b.preshared_key);  // all zeros: none
    EXPECT_FALSE(b.endpoint);
    EXPECT_TRUE(b.allowed_ips.empty());
}

TEST(UapiProtocol, EmptyDeviceIsJustErrnoZero) {
    const DeviceConfig d = parse_uapi_get_reply("errno=0\n\n");
    EXPECT_FALSE(d.private_key);
    EXPECT_FALSE(d.listen_port);
    EXPECT_TRUE(d.peers.empty());
}

TEST(UapiProtocol, FormatsTheWholeUpdateAsOneTransaction) {
    DeviceUpdate u;
    u.private_key = Key::parse(kPriv);
    u.listen_port = 51820;
    u.fwmark = 0;
    PeerUpdate removal;
    removal.public_key = *Key::parse(kPub2);
    removal.remove = true;
    u.peers.push_back(removal);
    PeerUpdate change;
    change.public_key = *Key::parse(kPub1);
    change.preshared_key = Key{};
    change.endpoint = SocketAddress::parse("192.0.2.1:4000");
    change.persistent_keepalive = 0;
    change.replace_allowed_ips = true;
    change.allowed_ips = {Prefix::parse_or_throw("10.0.0.0/24"),
                          Prefix::parse_or_throw("2001:db8::/32")};
    u.peers.push_back(change);
    EXPECT_EQ(format_uapi_set_request(u),
              "set=1\n"
              "private_key=" +
                  kPriv +
                  "\n"
                  "listen_port=51820\n"
                  "fwmark=0\n"
                  "public_key=" +
                  kPub2 +
                  "\n"
                  "remove=true\n"
                  "public_key=" +
                  kPub1 +
                  "\n"
                  "preshared_key=" +
                  std::string(64, '0') +
                  "\n"
                  "endpoint=192.0.2.1:4000\n"
                  "replace_allowed_ips=true\n"
                  "allowed_ip=10.0.0.0/24\n"
                  "allowed_ip=2001:db8::/32\n"
                  "persistent_keepalive_interval=0\n"
                  "\n");
    EXPECT_EQ(format_uapi_set_request(DeviceUpdate{}), "set=1\n\n");
}

TEST(UapiProtocol, SetReplyErrnoBecomesSystemError) {
    EXPECT_NO_THROW(parse_uapi_set_reply("errno=0\n\n"));
    try {
        parse_uapi_set_reply("errno=-22\n\n");
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EINVAL);
        EXPECT_NE(std::string(e.what()).find("Invalid argument"), std::string::npos) << e.what();
    }
    try {
        parse_uapi_set_reply("errno=98\n\n");
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE);
    }
    EXPECT_THROW(parse_uapi_get_reply("errno=-5\n\n"), std::system_error);
}

TEST(UapiProtocol, ReplyLengthFindsTheBlankLine) {
    EXPECT_FALSE(uapi_reply_length(""));
    EXPECT_FALSE(uapi_reply_length("errno=0\n"));
    EXPECT_EQ(uapi_reply_length("errno=0\n\n"), 9u);
    EXPECT_EQ(uapi_reply_length("a=b\nerrno=0\n\nxyz"), 13u);
    EXPECT_EQ(uapi_reply_length("\n"), 1u);
}

// Feeds `reply` to a reader in reads of `step` bytes; the complete reply once its end is in.
std::optional<std::string> read_in_steps(std::string_view reply, std::size_t step) {
    UapiReplyReader reader;
    for (std::size_t at = 0; at < reply.size(); at += step) {
        if (const auto length = reader.append(reply.substr(at, step)))
            return reader.received().substr(0, *length);
    }
    return std::nullopt;
}

TEST(UapiProtocol, ReplyReaderParsesAReplySplitAcrossManySmallReads) {
    for (const std::size_t step : {1u, 2u, 3u, 7u, 64u}) {
        const auto reply = read_in_steps(kGetReply, step);
        ASSERT_TRUE(reply.has_value()) << "reads of " << step << " bytes";
        EXPECT_EQ(*reply, kGetReply) << "reads of " << step << " bytes";
        EXPECT_EQ(parse_uapi_get_reply(*reply).peers.size(), 2u);
    }
    EXPECT_FALSE(read_in_steps("errno=0\n", 1)) << "no blank line yet";
}

TEST(UapiProtocol, ReplyReaderFindsAnEndStraddlingTwoReads) {
    UapiReplyReader reader;
    EXPECT_FALSE(reader.append("errno=0\n"));
    EXPECT_EQ(reader.append("\n"), 9u);

    UapiReplyReader single_newlines;  // two reads each ending in a newline, no blank line
    EXPECT_FALSE(single_newlines.append("a=b\n"));
    EXPECT_FALSE(single_newlines.append("x\n"));
    EXPECT_EQ(single_newlines.append("\nlate"), 7u) << "bytes after the end are the caller's";

    UapiReplyReader empty;  // the empty reply is the blank line alone, even split off
    EXPECT_FALSE(empty.append(""));
    EXPECT_EQ(empty.append("\n"), 1u);
}

TEST(UapiProtocol, ReplyReaderAgreesWithReplyLengthAtEverySplit) {
    for (const std::string_view reply :
         {std::string_view("errno=0\n\n"), std::string_view("a\n\nb\n\n"), std::string_view("\n\n"),
          std::string_view("a\nb\nc\n"), std::string_view("x\n\n\n")}) {
        for (std::size_t split = 0; split <= reply.size(); ++split) {
            UapiReplyReader reader;
            auto length = reader.append(reply.substr(0, split));
            if (!length)
                length = reader.append(reply.substr(split));
            EXPECT_EQ(length, uapi_reply_length(reply)) << "split at " << split;
        }
    }
}

TEST(UapiProtocol, HostileRepliesAreProtocolErrors) {
    const std::string peer = "public_key=" + kPub1 + "\n";
    const std::vector<std::string> hostile = {
        "",
        "\n",
        "errno=0\n",                          // no blank line
        "errno=0",                            // truncated
        "listen_port=1\n\n",                  // no errno
        "errno=0\nlisten_port=1\n\n",         // data after errno
        "errno=0\n\nextra",                   // bytes after the reply
        "errno=abc\n\n",                      // bad errno
        "errno=99999999999999999999999\n\n",  // huge errno
        "errno=-\n\n",
        "errno=+1\n\n",
        "listen_port=65536\nerrno=0\n\n",  // out of range
        "listen_port=-1\nerrno=0\n\n",
        "listen_port=\nerrno=0\n\n",
        "listen_port=1 \nerrno=0\n\n",
        "fwmark=4294967296\nerrno=0\n\n",
        "private_key=zz\nerrno=0\n\n",  // bad hex
        "private_key=" + std::string(63, 'a') + "g\nerrno=0\n\n",
        "private_key=" + std::string(44, 'A') + "\nerrno=0\n\n",  // base64 is not protocol
        "public_key=" + kPub1.substr(2) + "\nerrno=0\n\n",
        "frobnicate=1\nerrno=0\n\n",         // unknown device key
        peer + "frobnicate=1\nerrno=0\n\n",  // unknown peer key
        "no_equals_sign\nerrno=0\n\n",
        "=value\nerrno=0\n\n",
        peer + "rx_bytes=18446744073709551616\nerrno=0\n\n",  // > u64
        peer + "last_handshake_time_sec=9223372036854775808\nerrno=0\n\n",
        peer + "last_handshake_time_nsec=1000000000\nerrno=0\n\n",
        peer + "persistent_keepalive_interval=70000\nerrno=0\n\n",
        peer + "endpoint=1.2.3.4\nerrno=0\n\n",
        peer + "endpoint=::1:5\nerrno=0\n\n",
        peer + "endpoint=host.example:5\nerrno=0\n\n",
        peer + "allowed_ip=10.0.0.1\nerrno=0\n\n",
        peer + "allowed_ip=10.0.0.0/33\nerrno=0\n\n",
        peer + "allowed_ip=fd00::/129\nerrno=0\n\n",
        peer + "protocol_version=2\nerrno=0\n\n",
        peer + peer + "errno=0\n\n",                                     // duplicate peer
        "listen_port=1\n" + std::string(5000, 'x') + "=1\nerrno=0\n\n",  // overlong line
    };
    for (const auto& reply : hostile) {
        EXPECT_THROW(parse_uapi_get_reply(reply), UapiProtocolError) << reply.substr(0, 100);
    }
    EXPECT_THROW(parse_uapi_set_reply("listen_port=1\nerrno=0\n\n"), UapiProtocolError);
    EXPECT_THROW(parse_uapi_set_reply("errno=0\n"), UapiProtocolError);
    EXPECT_THROW(parse_uapi_get_reply(std::string(kMaxUapiReplyBytes + 1, '\n')),
                 UapiProtocolError);
}

TEST(UapiProtocol, RoundTripThroughTheParser) {
    // A get reply rebuilt from a parsed config parses to the same config.
    const DeviceConfig d = parse_uapi_get_reply(kGetReply);
    DeviceUpdate u = compute_device_update(DeviceConfig{}, d);
    std::string request = format_uapi_set_request(u);
    ASSERT_TRUE(request.starts_with("set=1\n"));
    // Turn the request into a reply of the same lines (minus set=1 and flags).
    std::string reply;
    for (std::size_t pos = 6; pos < request.size();) {
        const auto nl = request.find('\n', pos);
        const std::string line = request.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty())
            break;
        if (line != "replace_allowed_ips=true")
            reply += line + "\n";
    }
    reply += "errno=0\n\n";
    const DeviceConfig back = parse_uapi_get_reply(reply);
    EXPECT_TRUE(compute_device_update(back, d).empty());
}

}  // namespace
}  // namespace wgmesh::wg
