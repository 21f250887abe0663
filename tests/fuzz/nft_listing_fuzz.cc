// nft listings are read back from the kernel through libnftables; a listing we do not
// expect (another nft version, a hostile ruleset) must give an error, never a crash. The
// planner runs on whatever parses, as NftForwarding would.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "netlink/nft_forwarding_plan.h"
#include "netlink/nft_listing.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wgmesh::netlink;
    try {
        const NftListing listing =
            parse_nft_listing(std::string_view(reinterpret_cast<const char*>(data), size));
        nlohmann::json commands = {{"nftables", nlohmann::json::array()}};
        for (const ForeignChain& chain : iptables_forward_chains(listing)) {
            append_foreign_chain_commands(commands, chain,
                                          plan_foreign_chain_ensure(listing, chain, "wg0"), "wg0");
            append_foreign_chain_commands(commands, chain,
                                          plan_foreign_chain_remove(listing, chain, "wg0"), "wg0");
        }
        unmanaged_dropping_forward_chains(listing, "wg0");
        static_cast<void>(commands.dump());
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
