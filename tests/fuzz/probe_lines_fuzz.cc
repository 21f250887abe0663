// The mesh probe's line reader gets whatever a peer inside the mesh sends to the probe server
// (and what a peer's server answers our client). Checks it against a plain split: the same
// lines, trimmed, in any chunking, and never more than the cap held.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/wgmesh/daemon/probe_lines.h"

namespace {

void check(bool condition) {
    if (!condition) {
        __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    // First byte: the cap (small, so that overlong lines are common); second: chunk size.
    const std::size_t cap = data[0] % 64;
    const std::size_t chunk = 1 + data[1] % 17;
    const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

    // The reference: complete lines up to the first one over the cap.
    std::vector<std::string> expected;
    bool expect_too_long = false;
    std::size_t start = 0;
    for (std::size_t nl = stream.find('\n'); nl != std::string_view::npos;
         nl = stream.find('\n', start)) {
        if (nl - start > cap) {
            expect_too_long = true;
            break;
        }
        expected.emplace_back(wgmesh::cli::trim_probe_line(stream.substr(start, nl - start)));
        start = nl + 1;
    }
    if (!expect_too_long && stream.size() - start > cap) {
        expect_too_long = true;
    }

    wgmesh::cli::ProbeLineReader reader(cap);
    std::vector<std::string> got;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
        std::string_view input = stream.substr(at, chunk);
        while (const auto line = reader.next_line(input)) {
            check(line->size() <= cap);
            got.emplace_back(*line);
        }
        check(reader.pending_bytes() <= cap);
    }
    check(reader.too_long() == expect_too_long);
    check(got == expected);
    return 0;
}
