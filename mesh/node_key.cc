#include "mesh/node_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <system_error>

#include "netlink/atomic_file.h"
#include "netlink/interface_name.h"
#include "netlink/unique_fd.h"

namespace wgmesh::mesh {
namespace {

using netlink::UniqueFd;

constexpr std::size_t kMaxKeyFileBytes = 256;

std::system_error file_error(int err, const std::string& what, const std::filesystem::path& path) {
    return std::system_error(err, std::generic_category(), what + " " + path.string());
}

std::optional<NodeKey> load(const std::filesystem::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
    if (fd.get() < 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw file_error(errno, "cannot open the node key", path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw file_error(errno, "cannot stat the node key", path);
    }
    if (!S_ISREG(st.st_mode)) {
        throw std::runtime_error("node key " + path.string() + " is not a regular file");
    }
    std::array<char, kMaxKeyFileBytes + 1> buffer{};
    std::size_t size = 0;
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer.data() + size, buffer.size() - size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw file_error(errno, "cannot read the node key", path);
        }
        if (n == 0 || size + static_cast<std::size_t>(n) >= buffer.size()) {
            size += static_cast<std::size_t>(n);
            break;
        }
        size += static_cast<std::size_t>(n);
    }
    std::string_view text(buffer.data(), size);
    if (size > kMaxKeyFileBytes) {
        throw std::runtime_error("node key " + path.string() + " is too large");
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
        text.remove_suffix(1);
    }
    auto key = text.size() == 44 ? wg::Key::parse(text) : std::nullopt;
    buffer.fill(0);
    if (!key || key->is_zero()) {
        throw std::runtime_error("node key " + path.string() +
                                 " does not hold one base64 WireGuard private key");
    }
    return NodeKey{*key, false, (st.st_mode & 077) != 0};
}

}  // namespace

std::filesystem::path node_key_path(const std::filesystem::path& state_dir,
                                    std::string_view interface_name) {
    netlink::require_valid_interface_name(interface_name);
    return state_dir / (std::string(interface_name) + ".key");
}

NodeKey load_or_create_node_key(const std::filesystem::path& path) {
    if (auto existing = load(path)) {
        return *existing;
    }
    if (path.has_parent_path()) {
        netlink::make_private_directories(path.parent_path());
    }
    const auto key = wg::Key::generate_private();
    const std::string line = key.to_base64() + "\n";
    // Not replacing: if another start created the key meanwhile, keep theirs.
    if (!netlink::write_file_atomically(path, line, {.mode = 0600, .replace_existing = false})) {
        if (auto existing = load(path)) {
            return *existing;
        }
        throw std::runtime_error("node key " + path.string() + " vanished while being created");
    }
    return NodeKey{key, true, false};
}

}  // namespace wgmesh::mesh
