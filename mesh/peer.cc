#include "mesh/peer.h"

namespace wgmesh::mesh {

std::string_view to_string(NatType type) {
    switch (type) {
        case NatType::kCone:
            return "cone";
        case NatType::kSymmetric:
            return "symmetric";
        case NatType::kUnknown:
            return "unknown";
        case NatType::kNotReported:
            break;
    }
    return "";
}

std::optional<NatType> parse_nat_type(std::string_view text) {
    if (text == "cone")
        return NatType::kCone;
    if (text == "symmetric")
        return NatType::kSymmetric;
    if (text == "unknown")
        return NatType::kUnknown;
    if (text.empty())
        return NatType::kNotReported;
    return std::nullopt;
}

}  // namespace wgmesh::mesh
