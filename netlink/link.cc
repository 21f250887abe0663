#include "netlink/link.h"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "netlink/interface_name.h"

namespace wgmesh::netlink {

namespace {

class Request {
  public:
    Request(std::uint16_t type, std::uint16_t flags) : buffer_(MNL_SOCKET_BUFFER_SIZE) {
        header_ = mnl_nlmsg_put_header(buffer_.data());
        header_->nlmsg_type = type;
        header_->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
        info_ = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header_, sizeof(ifinfomsg)));
        info_->ifi_family = AF_UNSPEC;
    }
    nlmsghdr* header() { return header_; }
    ifinfomsg* info() { return info_; }

  private:
    std::vector<std::uint8_t> buffer_;
    nlmsghdr* header_ = nullptr;
    ifinfomsg* info_ = nullptr;
};

std::system_error link_error(int error, std::string_view name, std::string_view what,
                             const NetlinkStatus& status) {
    return std::system_error(
        error, std::generic_category(),
        "interface '" + std::string(name) + "': " + std::string(what) + ": " + status.describe());
}

LinkInfo parse_link(const nlmsghdr& message) {
    LinkInfo link;
    const auto* info = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&message));
    link.index = info->ifi_index;
    link.up = (info->ifi_flags & IFF_UP) != 0;
    const nlattr* attribute = nullptr;
    const auto visit = [&](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
            case IFLA_IFNAME:
                if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
                    link.name = mnl_attr_get_str(a);
                }
                break;
            case IFLA_MTU:
                if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
                    link.mtu = mnl_attr_get_u32(a);
                }
                break;
            case IFLA_LINKINFO:
                attribute = a;
                break;
            default:
                break;
        }
    };
    const auto* start =
        static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload_offset(&message, sizeof(ifinfomsg)));
    int remaining = static_cast<int>(message.nlmsg_len) -
                    static_cast<int>(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg)));
    for (auto* a = reinterpret_cast<const nlattr*>(start); mnl_attr_ok(a, remaining);
         remaining -= static_cast<int>(NLA_ALIGN(a->nla_len)), a = mnl_attr_next(a)) {
        visit(a);
    }
    if (attribute != nullptr) {
        int nested = static_cast<int>(mnl_attr_get_payload_len(attribute));
        for (auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(attribute));
             mnl_attr_ok(a, nested);
             nested -= static_cast<int>(NLA_ALIGN(a->nla_len)), a = mnl_attr_next(a)) {
            if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
                mnl_attr_validate(a, MNL_TYPE_STRING) == 0) {
                const auto* text = static_cast<const char*>(mnl_attr_get_payload(a));
                link.kind.assign(text, strnlen(text, mnl_attr_get_payload_len(a)));
            }
        }
    }
    return link;
}

void change_link(NetlinkSocket& socket, std::string_view name, Request& request,
                 std::string_view what) {
    const std::string text(name);
    mnl_attr_put_strz(request.header(), IFLA_IFNAME, text.c_str());
    const NetlinkStatus status = socket.request(*request.header());
    if (!status.ok()) {
        throw link_error(status.error, name, what, status);
    }
}

}  // namespace

std::optional<LinkInfo> find_link(NetlinkSocket& socket, std::string_view name) {
    require_valid_interface_name(name);
    Request request(RTM_GETLINK, 0);
    const std::string text(name);
    mnl_attr_put_strz(request.header(), IFLA_IFNAME, text.c_str());
    // Without this the kernel adds per-VF statistics nobody here reads.
    mnl_attr_put_u32(request.header(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    std::optional<LinkInfo> found;
    const NetlinkStatus status = socket.request(*request.header(), [&](const nlmsghdr& reply) {
        if (reply.nlmsg_type == RTM_NEWLINK) {
            found = parse_link(reply);
        }
    });
    if (status.error == ENODEV) {
        return std::nullopt;
    }
    if (!status.ok()) {
        throw link_error(status.error, name, "cannot read link", status);
    }
    return found;
}

bool link_exists(NetlinkSocket& socket, std::string_view name) {
    return find_link(socket, name).has_value();
}

int link_index(NetlinkSocket& socket, std::string_view name) {
    const auto link = find_link(socket, name);
    if (!link) {
        throw std::system_error(ENODEV, std::generic_category(),
                                "interface '" + std::string(name) + "' does not exist");
    }
    return link->index;
}

void set_link_up(NetlinkSocket& socket, std::string_view name, bool up) {
    require_valid_interface_name(name);
    Request request(RTM_NEWLINK, 0);
    request.info()->ifi_change = IFF_UP;
    request.info()->ifi_flags = up ? IFF_UP : 0;
    change_link(socket, name, request, up ? "cannot set up" : "cannot set down");
}

void set_link_mtu(NetlinkSocket& socket, std::string_view name, unsigned mtu) {
    require_valid_interface_name(name);
    Request request(RTM_NEWLINK, 0);
    mnl_attr_put_u32(request.header(), IFLA_MTU, mtu);
    change_link(socket, name, request, "cannot set MTU " + std::to_string(mtu));
}

void create_link(NetlinkSocket& socket, std::string_view name, std::string_view kind) {
    require_valid_interface_name(name);
    Request request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    const std::string kind_text(kind);
    nlattr* info = mnl_attr_nest_start(request.header(), IFLA_LINKINFO);
    mnl_attr_put_str(request.header(), IFLA_INFO_KIND, kind_text.c_str());
    mnl_attr_nest_end(request.header(), info);
    change_link(socket, name, request, "cannot create link of kind '" + kind_text + "'");
}

void create_veth_pair(NetlinkSocket& socket, std::string_view name, std::string_view peer_name) {
    require_valid_interface_name(name);
    require_valid_interface_name(peer_name);
    Request request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    nlmsghdr* header = request.header();
    nlattr* info = mnl_attr_nest_start(header, IFLA_LINKINFO);
    mnl_attr_put_str(header, IFLA_INFO_KIND, "veth");
    nlattr* data = mnl_attr_nest_start(header, IFLA_INFO_DATA);
    nlattr* peer = mnl_attr_nest_start(header, VETH_INFO_PEER);
    // The peer is described by its own ifinfomsg followed by its attributes.
    auto* peer_info =
        static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
    peer_info->ifi_family = AF_UNSPEC;
    const std::string peer_text(peer_name);
    mnl_attr_put_strz(header, IFLA_IFNAME, peer_text.c_str());
    mnl_attr_nest_end(header, peer);
    mnl_attr_nest_end(header, data);
    mnl_attr_nest_end(header, info);
    change_link(socket, name, request, "cannot create veth pair with '" + peer_text + "'");
}

bool delete_link(NetlinkSocket& socket, std::string_view name) {
    require_valid_interface_name(name);
    Request request(RTM_DELLINK, 0);
    const std::string text(name);
    mnl_attr_put_strz(request.header(), IFLA_IFNAME, text.c_str());
    const NetlinkStatus status = socket.request(*request.header());
    if (status.error == ENODEV) {
        return false;
    }
    if (!status.ok()) {
        throw link_error(status.error, name, "cannot delete", status);
    }
    return true;
}

}  // namespace wgmesh::netlink
