// The forwarding-path check walks whatever ruleset the kernel lists: rule expressions of any
// shape (other nft versions, xtables leftovers, hostile tables), jump loops and chains that
// do not exist. Anything that parses as a listing must give checks, never a crash or a hang.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "mesh/forwarding_path.h"
#include "netlink/nft_listing.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wgmesh;
    netlink::NftListing listing;
    try {
        listing =
            netlink::parse_nft_listing(std::string_view(reinterpret_cast<const char*>(data), size));
    } catch (const std::invalid_argument&) {
        return 0;
    }
    for (const mesh::ForwardingCheck& check : mesh::check_forward_chains(listing, "wg0", true)) {
        if (check.name.empty() || check.reason.empty()) {
            __builtin_trap();  // every check says what it is and why
        }
    }
    return 0;
}
