#include "tools/wgmesh/secret_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "mesh/secret.h"
#include "netlink/unique_fd.h"

namespace wgmesh::cli {

namespace {

// A secret is a line of text; a file far larger than that is a mistake, not a secret.
constexpr std::size_t kMaxSecretBytes = 64 * 1024;

std::string variable() {
    return std::string(service::kSecretVariable);
}

std::string read_all(int fd, const std::string& what) {
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw std::system_error(errno, std::generic_category(), "cannot read " + what);
        }
        if (n == 0) {
            return text;
        }
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > kMaxSecretBytes) {
            throw UsageError(what + " is larger than " + std::to_string(kMaxSecretBytes) +
                             " bytes: not a mesh secret");
        }
    }
}

std::string read_secret_file(const std::string& path) {
    const std::string what = "secret file " + path;
    const netlink::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
        throw std::system_error(errno, std::generic_category(), "cannot open " + what);
    }
    return read_all(fd.get(), what);
}

std::optional<std::string> take_environment_secret() {
    const std::string name = variable();
    char* value = std::getenv(name.c_str());
    if (value == nullptr) {
        return std::nullopt;
    }
    std::string secret = value;
    // unsetenv() alone would leave the bytes readable in /proc/<pid>/environ.
    ::explicit_bzero(value, std::strlen(value));
    ::unsetenv(name.c_str());
    return secret;
}

struct RawSecret {
    std::string text;
    std::string source;  // for messages: "--secret-file F", "$WGMESH_SECRET", ...
};

RawSecret read_raw_secret(const Flags& flags, const SecretSources& sources,
                          const SecretWarning& warn) {
    auto from_environment = take_environment_secret();
    const auto file = flags.value("secret-file");
    const auto inline_secret = flags.value("secret");
    if (file && inline_secret) {
        throw UsageError("give the secret once: --secret-file or --secret, not both");
    }
    if (file) {
        return {read_secret_file(*file), "--secret-file " + *file};
    }
    if (inline_secret) {
        warn("--secret is visible in the process list; use " + variable() + " or --secret-file");
        return {*inline_secret, "--secret"};
    }
    if (from_environment) {
        std::string source(1, '$');
        source += service::kSecretVariable;
        return {std::move(*from_environment), std::move(source)};
    }
    if (sources.standard_input && ::isatty(STDIN_FILENO) == 0) {
        return {read_all(STDIN_FILENO, "standard input"), "standard input"};
    }
    throw UsageError("no mesh secret: use --secret-file FILE or set " + variable() +
                     (sources.standard_input ? ", or pipe it on standard input" : ""));
}

}  // namespace

std::string take_secret(const Flags& flags, const SecretSources& sources,
                        const SecretWarning& warn) {
    const RawSecret raw = read_raw_secret(flags, sources, warn);
    mesh::ParsedSecret parsed;
    try {
        parsed = mesh::parse_secret(raw.text);
    } catch (const std::invalid_argument& e) {
        throw UsageError(raw.source + ": " + e.what());
    }
    if (parsed.trimmed_unicode_space) {
        warn("the mesh secret from " + raw.source +
             " had Unicode spaces (such as no-break spaces from a web page or a chat) around "
             "it; they were removed, as the Go daemon removes them");
    }
    return std::move(parsed.value);
}

}  // namespace wgmesh::cli
