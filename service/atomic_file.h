// Files the installer writes into /etc: replaced atomically (a reader, systemd included,
// sees the old content or the new, never a torn file), with their mode from creation on.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace wgmesh::service {

// A temporary file in the same directory, created O_EXCL with mode 0600 and then given
// `mode` (so it is never wider than asked), written, fsynced, renamed over `path`, and the
// directory fsynced. Throws std::system_error naming the path.
void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           mode_t mode);

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

}  // namespace wgmesh::service
