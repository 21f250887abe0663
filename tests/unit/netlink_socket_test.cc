// NetlinkSocket against the running kernel with read-only requests (GETLINK of the
// loopback device and of indexes that do not exist), plus parsing of crafted replies.
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "netlink/socket.h"

namespace wgmesh::netlink {
namespace {

constexpr int kMissingIndex = 0x7ffffff0;

void add_getlink(MessageBatch& batch, int index) {
    void* header = nullptr;
    batch.add(RTM_GETLINK, 0, sizeof(ifinfomsg), &header);
    static_cast<ifinfomsg*>(header)->ifi_index = index;
}

// An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK.
std::vector<std::uint8_t> error_reply(int error, const std::string& text, bool capped) {
    std::vector<std::uint8_t> buffer(1024, 0);
    nlmsghdr* reply = mnl_nlmsg_put_header(buffer.data());
    reply->nlmsg_type = NLMSG_ERROR;
    auto* payload = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(reply, sizeof(nlmsgerr)));
    payload->error = -error;
    payload->msg.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
    payload->msg.nlmsg_type = RTM_NEWROUTE;
    if (!capped) {
        mnl_nlmsg_put_extra_header(reply, sizeof(rtmsg));  // the echoed request body
    } else {
        reply->nlmsg_flags |= NLM_F_CAPPED;
    }
    if (!text.empty()) {
        reply->nlmsg_flags |= NLM_F_ACK_TLVS;
        mnl_attr_put_u32(reply, NLMSGERR_ATTR_OFFS, 20);
        mnl_attr_put_strz(reply, NLMSGERR_ATTR_MSG, text.c_str());
    }
    buffer.resize(reply->nlmsg_len);
    return buffer;
}

TEST(NetlinkErrorParsing, CappedAckWithExtendedText) {
    const auto reply = error_reply(ENETUNREACH, "Nexthop has invalid gateway", true);
    const NetlinkStatus status =
        parse_error_message(*reinterpret_cast<const nlmsghdr*>(reply.data()));
    EXPECT_EQ(status.error, ENETUNREACH);
    EXPECT_EQ(status.message, "Nexthop has invalid gateway");
    EXPECT_NE(status.describe().find("Nexthop has invalid gateway"), std::string::npos);
}

TEST(NetlinkErrorParsing, UncappedAckSkipsEchoedRequest) {
    const auto reply = error_reply(EEXIST, "File exists somewhere", false);
    const NetlinkStatus status =
        parse_error_message(*reinterpret_cast<const nlmsghdr*>(reply.data()));
    EXPECT_EQ(status.error, EEXIST);
    EXPECT_EQ(status.message, "File exists somewhere");
}

TEST(NetlinkErrorParsing, PlainAckAndTruncation) {
    const auto ack = error_reply(0, "", true);
    EXPECT_TRUE(parse_error_message(*reinterpret_cast<const nlmsghdr*>(ack.data())).ok());

    auto truncated = error_reply(EINVAL, "", true);
    auto* header = reinterpret_cast<nlmsghdr*>(truncated.data());
    header->nlmsg_len = NLMSG_HDRLEN + 2;
    EXPECT_EQ(parse_error_message(*header).error, EBADMSG);
}

TEST(NetlinkErrorParsing, TextAttributeLengthBeyondMessageIsIgnored) {
    auto reply = error_reply(EINVAL, "abc", true);
    auto* header = reinterpret_cast<nlmsghdr*>(reply.data());
    header->nlmsg_len -= 4;  // cut into the text attribute
    const NetlinkStatus status = parse_error_message(*header);
    EXPECT_EQ(status.error, EINVAL);
    EXPECT_TRUE(status.message.empty());
}

TEST(NetlinkSocket, BatchMatchesFailuresToTheirRequests) {
    NetlinkSocket socket(NETLINK_ROUTE);
    MessageBatch batch;
    add_getlink(batch, 1);
    add_getlink(batch, kMissingIndex);
    add_getlink(batch, 1);
    add_getlink(batch, kMissingIndex);
    const auto failures = socket.send_batch(batch);
    ASSERT_EQ(failures.size(), 2u);
    EXPECT_EQ(failures[0].index, 1u);
    EXPECT_EQ(failures[0].status.error, ENODEV);
    EXPECT_EQ(failures[1].index, 3u);
    EXPECT_EQ(failures[1].status.error, ENODEV);
}

TEST(NetlinkSocket, LargeBatchSpansManyChunks) {
    NetlinkSocket socket(NETLINK_ROUTE);
    MessageBatch batch;
    constexpr std::size_t kCount = 30000;  // > 256 KiB of messages
    for (std::size_t i = 0; i < kCount; ++i) {
        add_getlink(batch, i % 3 == 0 ? 1 : kMissingIndex);
    }
    const auto failures = socket.send_batch(batch);
    ASSERT_EQ(failures.size(), kCount - kCount / 3);
    std::size_t expected = 1;
    for (const BatchFailure& failure : failures) {
        ASSERT_EQ(failure.index, expected);
        ASSERT_EQ(failure.status.error, ENODEV);
        expected += expected % 3 == 1 ? 1 : 2;
    }
    // The socket is still in step: a new batch gets its own answers only.
    batch.clear();
    add_getlink(batch, kMissingIndex);
    const auto again = socket.send_batch(batch);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].index, 0u);
}

TEST(NetlinkSocket, DumpVisitsEveryLink) {
    NetlinkSocket socket(NETLINK_ROUTE);
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* request = mnl_nlmsg_put_header(buffer.data());
    request->nlmsg_type = RTM_GETLINK;
    mnl_nlmsg_put_extra_header(request, sizeof(ifinfomsg));
    bool saw_loopback = false;
    std::size_t messages = 0;
    socket.dump(
        *request,
        [&](const nlmsghdr& message) {
            ++messages;
            const auto* info = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&message));
            saw_loopback |= info->ifi_index == 1;
        },
        [&] {
            messages = 0;
            saw_loopback = false;
        });
    EXPECT_GE(messages, 1u);
    EXPECT_TRUE(saw_loopback);
}

TEST(NetlinkSocket, SingleRequestReturnsReplyAndStatus) {
    NetlinkSocket socket(NETLINK_ROUTE);
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* request = mnl_nlmsg_put_header(buffer.data());
    request->nlmsg_type = RTM_GETLINK;
    auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(request, sizeof(ifinfomsg)));
    info->ifi_index = kMissingIndex;
    EXPECT_EQ(socket.request(*request).error, ENODEV);
}

TEST(NetlinkSocket, ResolvesGenericNetlinkFamilies) {
    NetlinkSocket socket(NETLINK_GENERIC);
    EXPECT_EQ(resolve_genl_family(socket, "nlctrl"), GENL_ID_CTRL);
    try {
        resolve_genl_family(socket, "wgmesh-nofam");
        FAIL() << "an unknown family resolved";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT) << e.what();
        EXPECT_NE(std::string(e.what()).find("wgmesh-nofam"), std::string::npos);
    }
}

}  // namespace
}  // namespace wgmesh::netlink
