#include "netlink/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace wgmesh::netlink {

namespace {

// Every value we read is a short number; more than this is not a sysctl we know.
constexpr std::size_t kMaxValueBytes = 4096;

std::filesystem::path sysctl_path(std::string_view key, const std::filesystem::path& proc_sys) {
    const std::filesystem::path relative(key);
    if (key.empty() || relative.is_absolute()) {
        throw std::invalid_argument("invalid sysctl key '" + std::string(key) + "'");
    }
    for (const auto& part : relative) {
        if (part == "..") {
            throw std::invalid_argument("invalid sysctl key '" + std::string(key) + "'");
        }
    }
    return proc_sys / relative;
}

class File {
  public:
    File(const std::filesystem::path& path, int flags) : fd_(::open(path.c_str(), flags)) {}
    ~File() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    int fd() const { return fd_; }

  private:
    int fd_;
};

std::system_error file_error(const std::filesystem::path& path, std::string_view what) {
    return std::system_error(errno, std::generic_category(),
                             std::string(what) + " " + path.string());
}

std::string trim(std::string text) {
    const auto first = text.find_first_not_of(" \t\n");
    if (first == std::string::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\n");
    return text.substr(first, last - first + 1);
}

}  // namespace

std::string read_sysctl(std::string_view key, const std::filesystem::path& proc_sys) {
    const auto path = sysctl_path(key, proc_sys);
    File file(path, O_RDONLY | O_CLOEXEC);
    if (file.fd() < 0) {
        throw file_error(path, "cannot open");
    }
    std::string value(kMaxValueBytes, '\0');
    std::size_t used = 0;
    for (;;) {
        const ssize_t n = ::read(file.fd(), value.data() + used, value.size() - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw file_error(path, "cannot read");
        }
        if (n == 0) {
            break;
        }
        used += static_cast<std::size_t>(n);
        if (used == value.size()) {
            throw std::runtime_error("value of " + path.string() + " is too long");
        }
    }
    value.resize(used);
    return trim(std::move(value));
}

void write_sysctl(std::string_view key, std::string_view value,
                  const std::filesystem::path& proc_sys) {
    if (value.find_first_of("\n\0", 0, 2) != std::string_view::npos) {
        throw std::invalid_argument("invalid sysctl value for " + std::string(key));
    }
    const auto path = sysctl_path(key, proc_sys);
    File file(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (file.fd() < 0) {
        throw file_error(path, "cannot open for writing");
    }
    // /proc/sys takes the whole value in one write.
    const std::string line = std::string(value) + "\n";
    ssize_t n = 0;
    do {
        n = ::write(file.fd(), line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        throw file_error(path, "cannot write '" + std::string(value) + "' to");
    }
    if (static_cast<std::size_t>(n) != line.size()) {
        errno = EIO;
        throw file_error(path, "short write to");
    }
}

bool ensure_sysctl(std::string_view key, std::string_view value,
                   const std::filesystem::path& proc_sys) {
    if (read_sysctl(key, proc_sys) == value) {
        return false;
    }
    write_sysctl(key, value, proc_sys);
    return true;
}

bool ensure_ipv4_forwarding(const std::filesystem::path& proc_sys) {
    return ensure_sysctl("net/ipv4/ip_forward", "1", proc_sys);
}

}  // namespace wgmesh::netlink
