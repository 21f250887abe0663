// The one way wgmesh writes a file it must not lose or tear: the installer's files in /etc,
// the node key, the collision nonce, the peer cache and the interface state. A reader (systemd,
// a restarted daemon) sees the old content or the new, never a torn file, and the file has its
// final mode from creation on.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace wgmesh::netlink {

struct AtomicWriteOptions {
    // The file's final mode. The temporary file is created 0600 and only then given this
    // mode, so the content is never readable more widely than asked, whatever the umask.
    mode_t mode = 0600;
    // false: an existing file is kept (link() instead of rename()), so that of two concurrent
    // creators the first one wins and the other learns it from the return value.
    bool replace_existing = true;
    // Empty: a unique temporary name `.<name>.XXXXXX`, so concurrent writers never share one.
    // Set: this fixed name in the same directory, for a caller that serialises its writers
    // and wants a crash's leftover to be known (the next write removes it and starts over).
    std::filesystem::path temp_path;
    // Test hook: runs after the temporary file is written and synced, before it is put in
    // place. Throwing from it (or dying in it) simulates a crash at the worst moment.
    std::function<void(const std::filesystem::path& temp)> before_rename;
};

// A temporary file in the same directory, created O_EXCL with mode 0600 and then given
// `options.mode`, written, fsynced, renamed (or linked) to `path`, and the directory fsynced.
// Returns false only when `replace_existing` is false and `path` already existed (it is left
// untouched); true when `path` now holds `content`. Throws std::system_error naming the path.
bool write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           const AtomicWriteOptions& options = {});

// Removes the unique temporary files (`.<name>.XXXXXX`) that writers of `path` killed
// between creating and renaming them left behind; returns how many. Only for a caller that
// knows no other writer of `path` is running (the daemon, after it made sure it is alone).
// Throws std::system_error naming the directory when it cannot be listed.
std::size_t remove_leftover_temp_files(const std::filesystem::path& path);

// The whole file, or nullopt when it does not exist. Throws on other errors.
std::optional<std::string> read_file_if_exists(const std::filesystem::path& path);

// Removes a regular file or symlink; false when there was none. Throws on other errors.
bool remove_file_if_exists(const std::filesystem::path& path);

// Like `mkdir -p` with mode 0755, following symlinks (for system directories such as
// /etc/systemd/system). Throws std::system_error naming the path.
void make_directories(const std::filesystem::path& path);

// Creates the directory (missing parents with 0755) with `mode`. An existing directory keeps
// its mode unless `enforce_mode`. A path that exists as something else (a symlink included)
// is an error: nothing is written through a link planted in place of one of our directories.
void ensure_directory(const std::filesystem::path& path, mode_t mode, bool enforce_mode);

// Like `mkdir -p` but every missing component gets mode 0700 (existing ones are left alone):
// a state directory created on demand, and the parents it needed, are private to root.
// Throws std::system_error naming the path when it cannot be created or is not a directory.
void make_private_directories(const std::filesystem::path& path);

}  // namespace wgmesh::netlink
