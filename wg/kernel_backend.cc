#include "wg/kernel_backend.h"

#include <linux/netlink.h>
#include <linux/wireguard.h>

#include <span>
#include <system_error>

#include "netlink/interface_name.h"
#include "wg/kernel_messages.h"

namespace wgmesh::wg {

namespace {

nlmsghdr& header_of(NetlinkMessage& message) {
    return *reinterpret_cast<nlmsghdr*>(message.data());
}

}  // namespace

KernelDevice::KernelDevice(std::string interface_name)
    : name_(std::move(interface_name)), socket_(NETLINK_GENERIC) {
    netlink::require_valid_interface_name(name_);
    family_id_ = netlink::resolve_genl_family(socket_, WG_GENL_NAME);
}

DeviceConfig KernelDevice::get() {
    NetlinkMessage request = build_get_device_request(name_, family_id_);
    GetDeviceDumpParser parser(family_id_);
    try {
        socket_.dump(
            header_of(request),
            [&](const nlmsghdr& message) {
                parser.add_message(
                    std::span(reinterpret_cast<const std::uint8_t*>(&message), message.nlmsg_len));
            },
            [&] { parser.finish(); });
    } catch (const std::system_error& e) {
        throw std::system_error(e.code(), "WireGuard GET_DEVICE for " + name_ + ": " + e.what());
    }
    return parser.finish();
}

void KernelDevice::apply_update(const DeviceUpdate& update) {
    auto messages = build_set_device_messages(name_, family_id_, update);
    for (std::size_t i = 0; i < messages.size(); ++i) {
        ++messages_sent_;
        const netlink::NetlinkStatus status = socket_.request(header_of(messages[i]));
        if (!status.ok()) {
            throw std::system_error(status.error, std::generic_category(),
                                    "WireGuard SET_DEVICE on " + name_ + " failed in message " +
                                        std::to_string(i + 1) + " of " +
                                        std::to_string(messages.size()) +
                                        (i > 0 ? " (the earlier ones were applied)" : "") +
                                        (status.message.empty() ? "" : ": " + status.message));
        }
    }
}

void KernelDevice::apply(const DeviceConfig& desired) {
    apply_update(compute_device_update(get(), desired));
}

DeviceUpdate KernelDevice::apply_against(const DeviceConfig& current, const DeviceConfig& desired) {
    auto update = compute_device_update(current, desired);
    apply_update(update);
    return update;
}

}  // namespace wgmesh::wg
