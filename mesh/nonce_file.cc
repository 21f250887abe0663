#include "mesh/nonce_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <system_error>

#include "netlink/atomic_file.h"
#include "netlink/unique_fd.h"

namespace wgmesh::mesh {

namespace {

using netlink::UniqueFd;

constexpr std::size_t kMaxNonceFileBytes = 4096;
constexpr int kNonceFileVersion = 1;

[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path.string());
}

[[noreturn]] void throw_invalid(const std::filesystem::path& path, const std::string& why) {
    throw std::runtime_error("invalid nonce file " + path.string() + ": " + why);
}

}  // namespace

std::filesystem::path nonce_file_path(const std::filesystem::path& state_dir,
                                      std::string_view interface_name) {
    return state_dir / (std::string(interface_name) + ".nonce");
}

std::optional<PersistedNonce> read_nonce_file(const std::filesystem::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw_errno("could not open the nonce file", path);
    }
    std::string text(kMaxNonceFileBytes + 1, '\0');
    std::size_t size = 0;
    while (size < text.size()) {
        const ssize_t n = ::read(fd.get(), text.data() + size, text.size() - size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno("could not read the nonce file", path);
        }
        if (n == 0) {
            break;
        }
        size += static_cast<std::size_t>(n);
    }
    if (size > kMaxNonceFileBytes) {
        throw_invalid(path, "larger than " + std::to_string(kMaxNonceFileBytes) + " bytes");
    }
    text.resize(size);
    const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) {
        throw_invalid(path, "not a JSON object");
    }
    const auto key = json.find("wg_pubkey");
    const auto nonce = json.find("nonce");
    const auto mesh_ip = json.find("mesh_ip");
    if (key == json.end() || !key->is_string() || nonce == json.end() ||
        !nonce->is_number_unsigned() || mesh_ip == json.end() || !mesh_ip->is_string()) {
        throw_invalid(path, "wg_pubkey, nonce and mesh_ip are required");
    }
    PersistedNonce result;
    auto parsed_key = wg::Key::parse(key->get<std::string>());
    auto parsed_ip = netlink::IpAddress::parse(mesh_ip->get<std::string>());
    const auto nonce_value = nonce->get<std::uint64_t>();
    if (!parsed_key || !parsed_ip || nonce_value > std::numeric_limits<std::uint32_t>::max()) {
        throw_invalid(path, "bad key, address or nonce");
    }
    result.public_key = *parsed_key;
    result.nonce = static_cast<std::uint32_t>(nonce_value);
    result.mesh_ip = *parsed_ip;
    return result;
}

void write_nonce_file(const std::filesystem::path& path, const PersistedNonce& value) {
    if (path.has_parent_path()) {
        netlink::make_private_directories(path.parent_path());
    }
    const nlohmann::json json = {{"version", kNonceFileVersion},
                                 {"wg_pubkey", value.public_key.to_base64()},
                                 {"nonce", value.nonce},
                                 {"mesh_ip", value.mesh_ip.to_string()}};
    const std::string text = json.dump() + "\n";

    netlink::write_file_atomically(path, text, {.mode = 0600});
}

}  // namespace wgmesh::mesh
