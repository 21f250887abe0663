#include "tools/wgmesh/flags.h"

#include <charconv>

namespace wgmesh::cli {

Flags::Flags(std::span<const std::string> args, std::span<const FlagSpec> specs) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--help" || arg == "-h") {
            help_ = true;
            continue;
        }
        if (arg.rfind("--", 0) != 0 || arg == "--") {
            positional_.push_back(arg);
            continue;
        }
        std::string name = arg.substr(2);
        std::optional<std::string> inline_value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            inline_value = name.substr(eq + 1);
            name.resize(eq);
        }
        const FlagSpec* spec = nullptr;
        for (const auto& candidate : specs) {
            if (candidate.name == name) {
                spec = &candidate;
            }
        }
        if (spec == nullptr) {
            throw UsageError("unknown flag --" + name);
        }
        if (values_.count(name) != 0) {
            throw UsageError("flag --" + name + " given twice");
        }
        if (spec->value_name.empty()) {
            if (inline_value) {
                throw UsageError("flag --" + name + " takes no value");
            }
            values_[name] = "";
        } else if (inline_value) {
            values_[name] = *inline_value;
        } else if (i + 1 < args.size()) {
            values_[name] = args[++i];
        } else {
            throw UsageError("flag --" + name + " needs a value (" + spec->value_name + ")");
        }
    }
}

bool Flags::has(std::string_view name) const {
    return values_.find(name) != values_.end();
}

std::optional<std::string> Flags::value(std::string_view name) const {
    if (auto it = values_.find(name); it != values_.end()) {
        return it->second;
    }
    return std::nullopt;
}

std::string Flags::value_or(std::string_view name, std::string fallback) const {
    auto v = value(name);
    return v ? *v : std::move(fallback);
}

std::optional<unsigned long> Flags::number(std::string_view name, unsigned long min,
                                           unsigned long max) const {
    auto text = value(name);
    if (!text) {
        return std::nullopt;
    }
    unsigned long result = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), result);
    if (text->empty() || ec != std::errc() || end != text->data() + text->size() || result < min ||
        result > max) {
        throw UsageError("--" + std::string(name) + " must be a number from " +
                         std::to_string(min) + " to " + std::to_string(max) + ", not '" + *text +
                         "'");
    }
    return result;
}

std::string describe_flags(std::span<const FlagSpec> specs) {
    std::string out;
    for (const auto& spec : specs) {
        std::string left = "  --" + spec.name;
        if (!spec.value_name.empty()) {
            left += " " + spec.value_name;
        }
        if (left.size() < 28) {
            left.resize(28, ' ');
        } else {
            left += "\n" + std::string(28, ' ');
        }
        out += left + spec.help + "\n";
    }
    return out;
}

}  // namespace wgmesh::cli
