// Kernel notifications as the monitor classifies them: the input is cut into two datagrams
// (so nf_tables transactions span reads), and each goes through both classifiers (the
// rtnetlink one takes netconf notifications too, as the monitor's socket does). Besides
// memory safety, the summary must be consistent: a relevant message always raises a flag,
// and never more are relevant than were read.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "netlink/kernel_monitor.h"

namespace {

using wgmesh::netlink::KernelEvents;

void check(const KernelEvents& events) {
    const bool flagged = events.routes || events.addresses || events.link || events.nft_table ||
                         events.forward_accept || events.forwarding_sysctl;
    if (events.relevant > events.messages || (events.relevant > 0) != flagged) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    wgmesh::netlink::ResolvedScope scope;
    scope.owned = {"wg0", 150, data[0] & 1 ? 1000u : 254u, "wgmesh-wg0"};
    scope.ifindex = 1 + (data[0] >> 1) % 8;  // small, so inputs hit it
    const std::size_t split = data[1] % (size - 1);
    // The kernel hands us 4-byte aligned datagrams; so does this.
    const std::span<const std::uint8_t> input(data + 2, size - 2);
    std::vector<std::uint32_t> first((split + 3) / 4), second((input.size() - split + 3) / 4);
    std::memcpy(first.data(), input.data(), split);
    std::memcpy(second.data(), input.data() + split, input.size() - split);

    KernelEvents rt, nft;
    wgmesh::netlink::NftTransaction transaction;
    const auto own_port = [](std::uint32_t port) { return port == 77; };
    const auto own_transaction = [](std::uint32_t port, std::uint32_t pid) {
        return port == 77 || pid == 77;
    };
    const std::span<const std::uint8_t> parts[] = {
        {reinterpret_cast<const std::uint8_t*>(first.data()), split},
        {reinterpret_cast<const std::uint8_t*>(second.data()), input.size() - split}};
    for (const auto& bytes : parts) {
        wgmesh::netlink::classify_rtnetlink(bytes, scope, own_port, rt);
        wgmesh::netlink::classify_nftables(bytes, scope.owned, transaction, own_transaction, nft);
    }
    check(rt);
    check(nft);
    return 0;
}
