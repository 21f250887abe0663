// `wgmesh genkey` and `wgmesh pubkey`: byte-for-byte what `wg genkey` / `wg pubkey` print, so
// keys move freely between wgmesh and wireguard-tools.
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/flags.h"
#include "wg/crypto/memory.h"
#include "wg/key.h"

namespace wgmesh::cli {

namespace {

// A key line is 45 bytes; anything far beyond that is not a key and is not read further.
constexpr std::size_t kMaxKeyInput = 4096;

std::string read_stdin_bounded() {
    std::string input;
    std::array<char, 512> buffer{};
    for (;;) {
        const ssize_t n = read(STDIN_FILENO, buffer.data(), buffer.size());
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw std::runtime_error(std::string("cannot read the key from stdin: ") +
                                     std::strerror(errno));
        }
        input.append(buffer.data(), static_cast<std::size_t>(n));
        if (input.size() > kMaxKeyInput)
            throw std::runtime_error("input on stdin is too long to be a key");
    }
    return input;
}

std::string_view trim_trailing_space(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                             text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

// Like wg(8): a private key written to a file others can read deserves a warning; the key is
// still printed because the caller may be about to fix the permissions.
void warn_if_world_accessible_output() {
    struct stat st {};
    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO) != 0) {
        std::cerr << "Warning: writing to world accessible file.\n"
                     "Consider setting the umask to 077 and trying again.\n";
    }
}

void write_line(const std::string& line) {
    std::cout << line << '\n' << std::flush;
    if (!std::cout)
        throw std::runtime_error("cannot write the key to stdout");
}

}  // namespace

int run_genkey(Args args) {
    const Flags flags(args, {});
    if (flags.help_requested()) {
        std::cout << "Usage: wgmesh genkey\n\n"
                     "Prints a new random private key in base64, like 'wg genkey'.\n"
                     "Run it under 'umask 077' when redirecting to a file.\n";
        return 0;
    }
    if (!flags.positional().empty())
        throw UsageError("genkey takes no arguments");
    warn_if_world_accessible_output();
    write_line(wg::Key::generate_private().to_base64());
    return 0;
}

int run_pubkey(Args args) {
    const Flags flags(args, {});
    if (flags.help_requested()) {
        std::cout << "Usage: wgmesh pubkey < private.key\n\n"
                     "Reads a private key (base64 or hex) on stdin and prints its public key in\n"
                     "base64, like 'wg pubkey'.\n";
        return 0;
    }
    if (!flags.positional().empty())
        throw UsageError("pubkey takes no arguments; the key is read from stdin");
    std::string input = read_stdin_bounded();
    const auto key = wg::Key::parse(trim_trailing_space(input));
    // The private key should not outlive its use in freed heap memory.
    wg::crypto::wipe(input);
    if (!key) {
        throw std::runtime_error(
            "the key on stdin is not the correct length or format (expected 32 bytes as 44 "
            "base64 characters or 64 hex digits)");
    }
    write_line(key->public_key().to_base64());
    return 0;
}

}  // namespace wgmesh::cli
