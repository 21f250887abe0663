// One libnftables context: the way wgmesh talks to nftables without forking nft(8).
//
// Threading: libnftables keeps process-global state (the interface cache in src/iface.c),
// so contexts must not run concurrently. wgmesh keeps ONE long-lived context and uses it
// from one thread (the reconcile thread). The context opens its NETLINK_NETFILTER socket
// in nft_ctx_new(), so it acts in the network namespace of the thread that constructed it.
#pragma once

#include <memory>
#include <string>

struct nft_ctx;

namespace wgmesh::netlink {

class NftContext {
  public:
    enum class Output {
        kText,
        // JSON listings (with handles). JSON input is accepted in both modes: libnftables
        // tries a buffer as JSON first when JSON output is on, and nft syntax otherwise.
        kJson,
    };

    // Throws std::runtime_error when libnftables cannot create the context.
    explicit NftContext(Output output = Output::kJson);
    ~NftContext();
    NftContext(const NftContext&) = delete;
    NftContext& operator=(const NftContext&) = delete;
    NftContext(NftContext&&) noexcept;
    NftContext& operator=(NftContext&&) noexcept;

    // Runs `commands` (nft syntax, or a {"nftables": [...]} JSON document) as one atomic
    // transaction and returns what nft printed (listings). Throws std::runtime_error with
    // nft's own error text when any command fails; then nothing of the buffer was applied.
    std::string run(const std::string& commands);

    Output output() const { return output_; }

  private:
    struct Deleter {
        void operator()(nft_ctx* ctx) const;
    };
    std::unique_ptr<nft_ctx, Deleter> ctx_;
    Output output_;
};

}  // namespace wgmesh::netlink
