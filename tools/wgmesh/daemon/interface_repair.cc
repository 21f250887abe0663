#include "tools/wgmesh/daemon/interface_repair.h"

#include <exception>

#include "netlink/link.h"
#include "netlink/socket.h"

namespace wgmesh::cli {

InterfaceProbe probe_interface(const std::string& name, wg::WireGuardDevice& device) {
    netlink::NetlinkSocket rtnl;
    if (!netlink::find_link(rtnl, name)) {
        return {InterfaceCondition::kLinkMissing, {}};
    }
    try {
        device.get();
    } catch (const std::exception& e) {
        return {InterfaceCondition::kDeviceSilent, e.what()};
    }
    return {};
}

InterfaceRepair choose_interface_repair(InterfaceCondition condition, bool created_by_wgmesh) {
    switch (condition) {
        case InterfaceCondition::kHealthy:
            return InterfaceRepair::kNone;
        case InterfaceCondition::kLinkMissing:
            // Ours: a wireguard-go that lost its link may still be exiting and answering on
            // the socket, which would make creating the interface fail; stop it first.
            return created_by_wgmesh ? InterfaceRepair::kRemoveThenCreate
                                     : InterfaceRepair::kCreate;
        case InterfaceCondition::kDeviceSilent:
            return created_by_wgmesh ? InterfaceRepair::kRemoveThenCreate
                                     : InterfaceRepair::kReportOnly;
    }
    return InterfaceRepair::kNone;
}

std::string describe_interface_fault(const std::string& name, const InterfaceProbe& probe) {
    switch (probe.condition) {
        case InterfaceCondition::kHealthy:
            return "interface " + name + " is healthy";
        case InterfaceCondition::kLinkMissing:
            return "interface " + name + " vanished";
        case InterfaceCondition::kDeviceSilent:
            return "interface " + name + ": its WireGuard socket does not answer: " + probe.detail;
    }
    return "interface " + name;
}

bool FaultEpisode::report(const std::string& message) {
    if (last_ == message) {
        return false;
    }
    last_ = message;
    return true;
}

bool FaultEpisode::clear() {
    const bool was_active = last_.has_value();
    last_.reset();
    return was_active;
}

}  // namespace wgmesh::cli
