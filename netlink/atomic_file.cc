#include "netlink/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <system_error>
#include <utility>

#include "netlink/unique_fd.h"

namespace wgmesh::netlink {

namespace {

// Larger files are not ours: a unit, an env file, a one-line rt_protos file, a state file.
constexpr off_t kMaxReadBytes = 1 << 20;

[[noreturn]] void fail(int error, const std::string& what, const std::filesystem::path& path) {
    throw std::system_error(error, std::generic_category(), what + " " + path.string());
}

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
    const UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || fsync(fd.get()) != 0) {
        fail(errno, "cannot sync directory", dir);
    }
}

// ".<name>.": what every temp file of `path` starts with. Appended piecewise: GCC 12 at -O3
// reports a false -Wrestrict inside libstdc++ for `"." + std::string` (GCC PR 105329).
std::string temp_name_prefix(const std::filesystem::path& path) {
    std::string prefix(1, '.');
    prefix += path.filename().string();
    prefix += '.';
    return prefix;
}

// Opens the temporary file O_CREAT|O_EXCL with mode 0600, so a file planted under its name
// is never reused and the content is never readable by others, whatever the umask.
UniqueFd create_temp_file(const std::filesystem::path& path, const std::filesystem::path& dir,
                          const AtomicWriteOptions& options, std::string& temp) {
    if (options.temp_path.empty()) {
        temp = (dir / (temp_name_prefix(path) + "XXXXXX")).string();
        UniqueFd fd(mkostemp(temp.data(), O_CLOEXEC));
        if (fd.get() < 0) {
            fail(errno, "cannot create a temporary file for", path);
        }
        return fd;
    }
    temp = options.temp_path.string();
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
    int fd = open(temp.c_str(), flags, 0600);
    if (fd < 0 && errno == EEXIST) {
        // A crash between create and rename left it behind; it never holds the only copy.
        // When it cannot go (a read-only file system), that is the error to report, not
        // the EEXIST it causes.
        if (unlink(temp.c_str()) != 0 && errno != ENOENT) {
            fail(errno, "cannot remove the leftover temporary file", temp);
        }
        fd = open(temp.c_str(), flags, 0600);
    }
    if (fd < 0) {
        fail(errno, "cannot create", temp);
    }
    return UniqueFd(fd);
}

}  // namespace

bool write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           const AtomicWriteOptions& options) {
    const std::filesystem::path dir =
        path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    std::string temp;
    UniqueFd fd = create_temp_file(path, dir, options, temp);
    bool written = true;
    try {
        // Exact, whatever the umask; the file is still empty and private here.
        if (fchmod(fd.get(), options.mode) != 0) {
            fail(errno, "cannot set the mode of", temp);
        }
        write_all(fd.get(), content, temp);
        if (fsync(fd.get()) != 0) {
            fail(errno, "cannot sync", temp);
        }
        if (fd.release_and_close() != 0) {
            fail(errno, "cannot close", temp);
        }
        if (options.before_rename) {
            options.before_rename(temp);
        }
        if (options.replace_existing) {
            if (rename(temp.c_str(), path.c_str()) != 0) {
                fail(errno, "cannot rename " + temp + " to", path);
            }
        } else {
            // link() fails with EEXIST instead of replacing: the existing file wins.
            if (link(temp.c_str(), path.c_str()) != 0) {
                if (errno != EEXIST) {
                    fail(errno, "cannot create", path);
                }
                written = false;
            }
            unlink(temp.c_str());
        }
    } catch (...) {
        unlink(temp.c_str());
        throw;
    }
    if (written) {
        sync_directory(dir);
    }
    return written;
}

std::size_t remove_leftover_temp_files(const std::filesystem::path& path) {
    const std::filesystem::path dir =
        path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    const std::string prefix = temp_name_prefix(path);
    constexpr std::size_t kMkstempSuffix = 6;
    std::error_code error;
    std::filesystem::directory_iterator entries(dir, error);
    if (error) {
        if (error == std::errc::no_such_file_or_directory) {
            return 0;
        }
        throw std::system_error(error, "cannot list " + dir.string());
    }
    std::size_t removed = 0;
    for (const auto& entry : entries) {
        const std::string name = entry.path().filename().string();
        const bool ours = name.size() == prefix.size() + kMkstempSuffix &&
                          name.starts_with(prefix) &&
                          std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()),
                                      name.end(), [](unsigned char c) { return std::isalnum(c); });
        // Regular files only: whatever else sits under such a name was not left by us.
        if (ours && entry.symlink_status().type() == std::filesystem::file_type::regular &&
            unlink(entry.path().c_str()) == 0) {
            ++removed;
        }
    }
    return removed;
}

std::optional<std::string> read_file_if_exists(const std::filesystem::path& path) {
    const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
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

void make_private_directories(const std::filesystem::path& path) {
    std::filesystem::path partial;
    for (const auto& component : path) {
        partial /= component;
        if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
            fail(errno, "cannot create directory", partial);
        }
    }
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        fail(errno, "cannot inspect", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        fail(ENOTDIR, "expected a directory at", path);
    }
}

}  // namespace wgmesh::netlink
