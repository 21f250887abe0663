// The interface through which mesh/ lets relay traffic pass through this node.
#pragma once

namespace wgmesh::netlink {

// What one ensure() had to put back.
struct ForwardingEnsured {
    // ip_forward was found off after an earlier ensure() of this instance had it on (someone
    // switched it off), and was turned on again. Not set by the first ensure(): that one only
    // sets the node up.
    bool ip_forward_restored = false;
};

class Forwarding {
  public:
    virtual ~Forwarding() = default;
    // Idempotent: ip_forward on, and the FORWARD accept for mesh-to-mesh traffic in place.
    virtual ForwardingEnsured ensure() = 0;
    // Removes only what ensure() created.
    virtual void remove() = 0;
};

}  // namespace wgmesh::netlink
