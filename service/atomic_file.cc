#include "service/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace wgmesh::service {

namespace {

// Larger files are not ours: a unit, an env file and a one-line rt_protos file.
constexpr off_t kMaxReadBytes = 1 << 20;

[[noreturn]] void fail(int error, const std::string& what, const std::filesystem::path& path) {
    throw std::system_error(error, std::generic_category(), what + " " + path.string());
}

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) {
            close(fd_);
        }
    }
    int get() const { return fd_; }
    // Closes now, reporting the error that close() can carry for a written file.
    int release_and_close() { return close(std::exchange(fd_, -1)); }

  private:
    int fd_;
};

void write_all(int fd, std::string_view content, const std::filesystem::path& path) {
    while (!content.empty()) {
        const ssize_t n = write(fd, content.data(), content.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(errno, "cannot write", path);
        }
        content.remove_prefix(static_cast<std::size_t>(n));
    }
}

void sync_directory(const std::filesystem::path& dir) {
    const Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || fsync(fd.get()) != 0) {
        fail(errno, "cannot sync directory", dir);
    }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           mode_t mode) {
    const std::filesystem::path dir = path.parent_path();
    std::string temp = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
    // mkostemp opens O_CREAT|O_EXCL with mode 0600: the content is never readable by others,
    // whatever the umask, and a file planted under the temporary name is never reused.
    Fd fd(mkostemp(temp.data(), O_CLOEXEC));
    if (fd.get() < 0) {
        fail(errno, "cannot create a temporary file for", path);
    }
    try {
        if (fchmod(fd.get(), mode) != 0) {
            fail(errno, "cannot set the mode of", temp);
        }
        write_all(fd.get(), content, temp);
        if (fsync(fd.get()) != 0) {
            fail(errno, "cannot sync", temp);
        }
        if (fd.release_and_close() != 0) {
            fail(errno, "cannot close", temp);
        }
        if (rename(temp.c_str(), path.c_str()) != 0) {
            fail(errno, "cannot rename " + temp + " to", path);
        }
    } catch (...) {
        unlink(temp.c_str());
        throw;
    }
    sync_directory(dir);
}

std::optional<std::string> read_file_if_exists(const std::filesystem::path& path) {
    const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0 && errno == ENOENT) {
        return std::nullopt;
    }
    struct stat st {};
    if (fd.get() < 0 || fstat(fd.get(), &st) != 0) {
        fail(errno, "cannot open", path);
    }
    if (!S_ISREG(st.st_mode) || st.st_size > kMaxReadBytes) {
        fail(EINVAL, "not a regular file of at most 1 MiB:", path);
    }
    std::string content;
    char buffer[8192];
    while (true) {
        const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(errno, "cannot read", path);
        }
        if (n == 0 || content.size() > static_cast<std::size_t>(kMaxReadBytes)) {
            return content;
        }
        content.append(buffer, static_cast<std::size_t>(n));
    }
}

bool remove_file_if_exists(const std::filesystem::path& path) {
    if (unlink(path.c_str()) == 0) {
        return true;
    }
    if (errno == ENOENT) {
        return false;
    }
    fail(errno, "cannot remove", path);
}

void make_directories(const std::filesystem::path& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fail(ENOTDIR, "expected a directory at", path);
        }
        return;
    }
    if (errno != ENOENT) {
        fail(errno, "cannot inspect", path);
    }
    if (path.has_parent_path() && path.parent_path() != path) {
        make_directories(path.parent_path());
    }
    if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
        fail(errno, "cannot create directory", path);
    }
}

void ensure_directory(const std::filesystem::path& path, mode_t mode, bool enforce_mode) {
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fail(ENOTDIR, "expected a directory (not a link or file) at", path);
        }
        if (enforce_mode && (st.st_mode & 07777) != mode && chmod(path.c_str(), mode) != 0) {
            fail(errno, "cannot set the mode of", path);
        }
        return;
    }
    if (errno != ENOENT) {
        fail(errno, "cannot inspect", path);
    }
    make_directories(path.parent_path());
    if (mkdir(path.c_str(), mode) != 0) {
        fail(errno, "cannot create directory", path);
    }
    // mkdir's mode is reduced by the umask.
    if (chmod(path.c_str(), mode) != 0) {
        fail(errno, "cannot set the mode of", path);
    }
}

}  // namespace wgmesh::service
