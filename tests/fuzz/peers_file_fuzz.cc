// The peers file is written by hand or by provisioning tools: any bytes must give either a
// peer list or one std::invalid_argument, never a crash, a hang or another exception.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "mesh/derived_keys.h"
#include "mesh/mesh_address.h"
#include "mesh/peers_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wgmesh;
    static const std::string secret = "peers-file-fuzz-secret-0123456789";
    static const mesh::MeshAddressing addressing(secret, mesh::derive_keys(secret));
    static const wg::Key local =
        wg::Key::parse_or_throw("RkDtiCN2kM0ZoM9M9QM4IeOCIOHalV7ZYZxBCBKVFyc=");
    try {
        const auto content = mesh::parse_peers_file(
            std::string_view(reinterpret_cast<const char*>(data), size), addressing, local);
        for (const auto& peer : content.peers) {
            // Every accepted peer is one the store accepts too.
            if (mesh::peer_rejection_reason(peer) || !peer.mesh_ip || !peer.mesh_ipv6) {
                __builtin_trap();
            }
        }
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
