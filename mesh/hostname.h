// A peer's hostname (SPEC section 4): whatever the peer calls itself, as the Go daemon
// stores it. It only labels the peer for people; nothing routes or keys on it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wgmesh::mesh {

inline constexpr std::size_t kMaxHostnameBytes = 253;

// Why `hostname` cannot be kept, or nullopt when it can: a hostname is any valid UTF-8
// string of at most 253 bytes without control characters (C0 U+0000-U+001F, DEL U+007F,
// C1 U+0080-U+009F). Empty means "none" and is valid. Spaces, non-Latin scripts, emoji,
// "<b>" are all fine: printing escapes what a terminal would act on (terminal_safe()).
// An invalid hostname is dropped on its own; the peer is kept without it.
std::optional<std::string> hostname_problem(std::string_view hostname);

}  // namespace wgmesh::mesh
