#include "mesh/secret.h"

#include <stdexcept>

namespace wgmesh::mesh {

namespace {

std::string_view trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n\v\f";
    const auto first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

}  // namespace

std::string parse_secret(std::string_view input) {
    std::string_view secret = trim(input);
    constexpr std::string_view kScheme = "wgmesh://";
    if (secret.substr(0, kScheme.size()) == kScheme) {
        std::string_view rest = secret.substr(kScheme.size());
        const auto slash = rest.find('/');
        if (slash == std::string_view::npos) {
            throw std::invalid_argument("secret URI must look like wgmesh://v1/<secret>");
        }
        rest = rest.substr(slash + 1);
        secret = rest.substr(0, rest.find('?'));
    }
    if (secret.size() < kMinSecretBytes) {
        throw std::invalid_argument("the mesh secret must be at least " +
                                    std::to_string(kMinSecretBytes) + " bytes long");
    }
    return std::string(secret);
}

}  // namespace wgmesh::mesh
