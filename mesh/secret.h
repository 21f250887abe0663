// The mesh secret as the user gives it, and its checks.
#pragma once

#include <string>
#include <string_view>

namespace wgmesh::mesh {

inline constexpr std::size_t kMinSecretBytes = 16;

struct ParsedSecret {
    std::string value;  // the bytes every key is derived from
    // Trimming removed more than ASCII whitespace (a no-break space from a web page or a
    // chat client, an ideographic space, ...): worth telling the operator, never silently.
    bool trimmed_unicode_space = false;
};

// Parses a secret exactly as the Go daemon does (its parseSecret and DeriveKeys), so that one
// pasted text gives one mesh in both implementations:
//  1. trim every Unicode White_Space code point at both ends (Go's strings.TrimSpace: on valid
//     UTF-8 only; an invalid or overlong sequence stops the trim);
//  2. "wgmesh://<version>/<secret>[?query]" yields <secret>, cut at the first '?';
//     "wgmesh://<secret>" (no '/' after the scheme) yields the whole rest, '?' included;
//  3. at least kMinSecretBytes bytes must remain, else std::invalid_argument.
ParsedSecret parse_secret(std::string_view input);

}  // namespace wgmesh::mesh
