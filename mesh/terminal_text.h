// Text that came from outside (hostnames, keys as given, a JSON parser's message quoting the
// input) made safe to print on a terminal or in a log line: nothing in it can move the
// cursor, recolour the screen, reorder what follows or break a line.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace wgmesh::mesh {

// Whether a terminal acts on code point `c` instead of printing it: C0 controls, DEL, C1
// controls (U+0080-U+009F), and the invisible formatting characters that reorder or split the
// text around them (bidi controls, U+2028-U+2029, U+FEFF): a U+202E in a hostname would
// reverse the rest of the line.
bool acts_on_terminal(char32_t c);

// Whether `text` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF, no truncated sequence.
bool is_valid_utf8(std::string_view text);

// `text` with printable UTF-8 passed through as is and everything else escaped: bytes that
// are not valid UTF-8, C0 controls and DEL as \xHH; C1 controls (U+0080-U+009F), the bidi
// controls (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069), U+2028-U+2029 and U+FEFF
// as \uHHHH; a backslash as \\ (so an escape in the output always means an escaped byte).
// At most `max_input_bytes` of `text` are shown, cut at a character boundary, then "...".
std::string terminal_safe(std::string_view text,
                          std::size_t max_input_bytes = std::numeric_limits<std::size_t>::max());

// The code point of the UTF-8 sequence at the start of `text` and its length in bytes, or
// length 0 when `text` does not start with a valid sequence (or is empty).
struct Utf8Char {
    char32_t code_point = 0;
    std::size_t length = 0;
};
Utf8Char decode_utf8(std::string_view text);

}  // namespace wgmesh::mesh
