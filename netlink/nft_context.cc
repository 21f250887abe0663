#include "netlink/nft_context.h"

#include <nftables/libnftables.h>

#include <stdexcept>
#include <string_view>

namespace wgmesh::netlink {

namespace {

std::string trim_trailing_newlines(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.pop_back();
    }
    return text;
}

std::string copy_buffer(const char* buffer) {
    return buffer == nullptr ? "" : buffer;
}

}  // namespace

void NftContext::Deleter::operator()(nft_ctx* ctx) const {
    nft_ctx_free(ctx);
}

NftContext::NftContext(Output output) : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)), output_(output) {
    if (!ctx_) {
        throw std::runtime_error("nftables: cannot create a libnftables context");
    }
    // Buffered so that listings and errors come back to us instead of going to stdout/stderr.
    if (nft_ctx_buffer_output(ctx_.get()) != 0 || nft_ctx_buffer_error(ctx_.get()) != 0) {
        throw std::runtime_error("nftables: cannot buffer libnftables output");
    }
    if (output_ == Output::kJson) {
        nft_ctx_output_set_flags(ctx_.get(), NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
    }
}

NftContext::~NftContext() = default;
NftContext::NftContext(NftContext&&) noexcept = default;
NftContext& NftContext::operator=(NftContext&&) noexcept = default;

std::string NftContext::run(const std::string& commands) {
    if (!ctx_) {
        throw std::logic_error("nftables: context used after move");
    }
    const int rc = nft_run_cmd_from_buffer(ctx_.get(), commands.c_str());
    // libnftables rewinds and reallocates both buffers on the next call: copy them now.
    std::string output = copy_buffer(nft_ctx_get_output_buffer(ctx_.get()));
    std::string error = trim_trailing_newlines(copy_buffer(nft_ctx_get_error_buffer(ctx_.get())));
    if (rc != 0) {
        if (error.empty()) {
            // On EPERM libnftables prints "(you must be root)" to stderr, not to the buffer.
            error = "failed without an error message (missing CAP_NET_ADMIN?)";
        }
        throw std::runtime_error("nftables: " + error);
    }
    return output;
}

}  // namespace wgmesh::netlink
