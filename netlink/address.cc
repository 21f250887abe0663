#include "netlink/address.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "netlink/interface_name.h"
#include "netlink/link.h"
#include "netlink/sysctl.h"

namespace wgmesh::netlink {

namespace {

bool is_ipv6_link_local(const IpAddress& address) {
    return address.is_v6() && address.data()[0] == 0xfe && (address.data()[1] & 0xc0) == 0x80;
}

// The attributes of an RTM_GETADDR reply that tell the address: IFA_LOCAL is the
// interface's own address on point-to-point links, IFA_ADDRESS otherwise.
std::optional<InterfaceAddress> parse_address(const nlmsghdr& message, int ifindex) {
    const auto* info = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(&message));
    if (static_cast<int>(info->ifa_index) != ifindex ||
        (info->ifa_family != AF_INET && info->ifa_family != AF_INET6)) {
        return std::nullopt;
    }
    const Family family = info->ifa_family == AF_INET ? Family::kIpv4 : Family::kIpv6;
    std::optional<IpAddress> local, address;
    const auto* start =
        static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload_offset(&message, sizeof(ifaddrmsg)));
    int remaining = static_cast<int>(message.nlmsg_len) -
                    static_cast<int>(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifaddrmsg)));
    for (auto* a = reinterpret_cast<const nlattr*>(start); mnl_attr_ok(a, remaining);
         remaining -= static_cast<int>(NLA_ALIGN(a->nla_len)), a = mnl_attr_next(a)) {
        const auto type = mnl_attr_get_type(a);
        if (type == IFA_LOCAL || type == IFA_ADDRESS) {
            auto parsed =
                IpAddress::from_bytes(family, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
            (type == IFA_LOCAL ? local : address) = parsed;
        }
    }
    const auto& own = local ? local : address;
    if (!own || is_ipv6_link_local(*own)) {
        return std::nullopt;
    }
    return InterfaceAddress{*own, info->ifa_prefixlen};
}

class AddressRequest {
  public:
    AddressRequest(std::uint16_t type, std::uint16_t flags, int ifindex,
                   const InterfaceAddress& address)
        : buffer_(MNL_SOCKET_BUFFER_SIZE) {
        header_ = mnl_nlmsg_put_header(buffer_.data());
        header_->nlmsg_type = type;
        header_->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
        info_ = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(header_, sizeof(ifaddrmsg)));
        info_->ifa_family = static_cast<std::uint8_t>(address.address.family_af());
        info_->ifa_prefixlen = static_cast<std::uint8_t>(address.prefix_length);
        info_->ifa_index = static_cast<std::uint32_t>(ifindex);
        info_->ifa_scope = RT_SCOPE_UNIVERSE;
        const auto length = static_cast<std::uint16_t>(address.address.size());
        // IPv4 needs both (IFA_ADDRESS is the peer on point-to-point links); IPv6 takes
        // IFA_LOCAL as the address too.
        mnl_attr_put(header_, IFA_LOCAL, length, address.address.data());
        mnl_attr_put(header_, IFA_ADDRESS, length, address.address.data());
    }
    nlmsghdr* header() { return header_; }

  private:
    std::vector<std::uint8_t> buffer_;
    nlmsghdr* header_ = nullptr;
    ifaddrmsg* info_ = nullptr;
};

void validate(const InterfaceAddress& address) {
    const unsigned max = address.address.is_v4() ? 32 : 128;
    if (address.prefix_length > max || address.address.is_unspecified()) {
        throw std::invalid_argument("invalid interface address " + address.to_string());
    }
}

}  // namespace

std::vector<InterfaceAddress> list_addresses(NetlinkSocket& socket, int ifindex) {
    std::vector<InterfaceAddress> addresses;
    for (const int family : {AF_INET, AF_INET6}) {
        std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
        nlmsghdr* request = mnl_nlmsg_put_header(buffer.data());
        request->nlmsg_type = RTM_GETADDR;
        auto* info =
            static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(request, sizeof(ifaddrmsg)));
        info->ifa_family = static_cast<std::uint8_t>(family);
        if (socket.strict_checking()) {
            info->ifa_index = static_cast<std::uint32_t>(ifindex);  // filtered in-kernel
        }
        const std::size_t before = addresses.size();
        socket.dump(
            *request,
            [&](const nlmsghdr& message) {
                if (message.nlmsg_type != RTM_NEWADDR) {
                    return;
                }
                if (auto address = parse_address(message, ifindex)) {
                    addresses.push_back(*address);
                }
            },
            [&] { addresses.resize(before); });
    }
    return addresses;
}

void add_address(NetlinkSocket& socket, int ifindex, const InterfaceAddress& address,
                 const AddressOptions& options) {
    validate(address);
    AddressRequest request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, address);
    std::uint32_t flags = IFA_F_PERMANENT;
    if (address.address.is_v6()) {
        flags |= IFA_F_NODAD;
    }
    if (options.no_prefix_route) {
        flags |= IFA_F_NOPREFIXROUTE;
    }
    // Flags above 8 bits (IFA_F_NOPREFIXROUTE) only fit in the attribute.
    mnl_attr_put_u32(request.header(), IFA_FLAGS, flags);
    const NetlinkStatus status = socket.request(*request.header());
    if (!status.ok() && status.error != EEXIST) {
        throw std::system_error(status.error, std::generic_category(),
                                "cannot add address " + address.to_string() + " to interface " +
                                    std::to_string(ifindex) + ": " + status.describe());
    }
}

bool delete_address(NetlinkSocket& socket, int ifindex, const InterfaceAddress& address) {
    validate(address);
    AddressRequest request(RTM_DELADDR, 0, ifindex, address);
    const NetlinkStatus status = socket.request(*request.header());
    if (status.error == EADDRNOTAVAIL || status.error == ENOENT) {
        return false;
    }
    if (!status.ok()) {
        throw std::system_error(status.error, std::generic_category(),
                                "cannot delete address " + address.to_string() +
                                    " from interface " + std::to_string(ifindex) + ": " +
                                    status.describe());
    }
    return true;
}

KernelAddressSet::KernelAddressSet(std::string interface, std::string proc_sys)
    : interface_(std::move(interface)), proc_sys_(std::move(proc_sys)), socket_(NETLINK_ROUTE) {
    require_valid_interface_name(interface_);
}

std::vector<InterfaceAddress> KernelAddressSet::list() {
    return list_addresses(socket_, link_index(socket_, interface_));
}

void KernelAddressSet::replace(const std::optional<InterfaceAddress>& previous,
                               const InterfaceAddress& replacement) {
    const int ifindex = link_index(socket_, interface_);
    if (previous && *previous != replacement && previous->address.is_v4() &&
        replacement.address.is_v4() && previous->prefix_length == replacement.prefix_length &&
        Prefix(previous->address, previous->prefix_length).contains(replacement.address)) {
        ensure_sysctl("net/ipv4/conf/" + interface_ + "/promote_secondaries", "1", proc_sys_);
    }
    add_address(socket_, ifindex, replacement);
    if (previous && *previous != replacement) {
        delete_address(socket_, ifindex, *previous);
    }
}

}  // namespace wgmesh::netlink
