#include "mesh/node_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <system_error>

#include "netlink/interface_name.h"

namespace wgmesh::mesh {
namespace {

constexpr std::size_t kMaxKeyFileBytes = 256;

std::system_error file_error(int err, const std::string& what, const std::filesystem::path& path) {
    return std::system_error(err, std::generic_category(), what + " " + path.string());
}

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

void make_private_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    if (dir.has_parent_path()) {
        std::filesystem::create_directories(dir.parent_path(), ec);
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        throw file_error(errno, "cannot create the state directory", dir);
    }
}

void fsync_dir(const std::filesystem::path& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
        throw file_error(errno, "cannot sync the directory", dir);
    }
}

std::optional<NodeKey> load(const std::filesystem::path& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
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
    const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    make_private_dir(dir);
    const auto key = wg::Key::generate_private();
    const std::string line = key.to_base64() + "\n";
    const auto temp = dir / ("." + path.filename().string() + ".tmp");
    ::unlink(temp.c_str());  // a leftover of a crash between create and link
    {
        Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (fd.get() < 0) {
            throw file_error(errno, "cannot create", temp);
        }
        if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
            ::fsync(fd.get()) != 0) {
            const int err = errno;
            ::unlink(temp.c_str());
            throw file_error(err, "cannot write", temp);
        }
    }
    // link() rather than rename(): if another start created the key meanwhile, keep theirs.
    const bool linked = ::link(temp.c_str(), path.c_str()) == 0;
    const int err = errno;
    ::unlink(temp.c_str());
    if (!linked) {
        if (err == EEXIST) {
            if (auto existing = load(path)) {
                return *existing;
            }
        }
        throw file_error(err, "cannot create the node key", path);
    }
    fsync_dir(dir);
    return NodeKey{key, true, false};
}

}  // namespace wgmesh::mesh
