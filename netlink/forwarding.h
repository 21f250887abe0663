// The interface through which mesh/ lets relay traffic pass through this node.
#pragma once

namespace wgmesh::netlink {

class Forwarding {
  public:
    virtual ~Forwarding() = default;
    // Idempotent: ip_forward on, and the FORWARD accept for mesh-to-mesh traffic in place.
    virtual void ensure() = 0;
    // Removes only what ensure() created.
    virtual void remove() = 0;
};

}  // namespace wgmesh::netlink
