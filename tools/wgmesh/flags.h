// A small, strict command-line parser shared by every subcommand: `--name value`,
// `--name=value` and boolean `--name`; unknown flags and missing values are errors.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wgmesh::cli {

// A bad command line: main() prints it with a hint to --help and exits 1.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct FlagSpec {
    std::string name;        // without the leading "--"
    std::string value_name;  // empty for a boolean flag
    std::string help;
};

class Flags {
  public:
    // Throws UsageError. `--help`/`-h` is always accepted and reported by help_requested().
    Flags(std::span<const std::string> args, std::span<const FlagSpec> specs);

    bool help_requested() const { return help_; }
    bool has(std::string_view name) const;
    std::optional<std::string> value(std::string_view name) const;
    std::string value_or(std::string_view name, std::string fallback) const;
    // Parses an unsigned number in [min, max]; throws UsageError naming the flag.
    std::optional<unsigned long> number(std::string_view name, unsigned long min,
                                        unsigned long max) const;
    const std::vector<std::string>& positional() const { return positional_; }

  private:
    std::map<std::string, std::string, std::less<>> values_;
    std::vector<std::string> positional_;
    bool help_ = false;
};

// "  --name VALUE   help" lines for a usage text.
std::string describe_flags(std::span<const FlagSpec> specs);

}  // namespace wgmesh::cli
