// The man page (tools/gen-manpage) and the bash completion (tools/wgmesh-completion.bash)
// the Debian package ships, against the --help of the built binary: every command,
// subcommand and flag any --help prints must be documented and completed.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace wgmesh {
namespace {

using test::run_checked;
using test::run_command;

const std::string kSource = WGMESH_SOURCE_DIR;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

std::string help(std::vector<std::string> words) {
    words.insert(words.begin(), WGMESH_BINARY);
    words.push_back("--help");
    return run_checked(words);
}

bool is_word(const std::string& text) {
    return !text.empty() && text.front() != '-' &&
           text.find_first_not_of("abcdefghijklmnopqrstuvwxyz-") == std::string::npos;
}

// Read independently of the generators: "  name   description" under "Commands:".
std::vector<std::string> commands() {
    std::vector<std::string> found;
    bool in_list = false;
    for (const auto& line : lines_of(help({}))) {
        if (line == "Commands:") {
            in_list = true;
        } else if (in_list && line.empty()) {
            break;
        } else if (in_list && line.rfind("  ", 0) == 0) {
            found.push_back(line.substr(2, line.find(' ', 2) - 2));
        }
    }
    return found;
}

// "wgmesh CMD a|b|c ..." or one usage line per subcommand.
std::vector<std::string> subcommands(const std::string& command) {
    std::set<std::string> found;
    const std::string prefix = "wgmesh " + command + " ";
    for (const auto& line : lines_of(help({command}))) {
        const auto at = line.find(prefix);
        if (at == std::string::npos) {
            continue;
        }
        std::string word = line.substr(at + prefix.size());
        word = word.substr(0, word.find(' '));
        std::istringstream alternatives(word);
        for (std::string sub; std::getline(alternatives, sub, '|');) {
            if (is_word(sub)) {
                found.insert(sub);
            }
        }
    }
    return {found.begin(), found.end()};
}

// Every "  --flag" line of the --help of `words`.
std::set<std::string> flags_of(const std::vector<std::string>& words) {
    std::set<std::string> flags;
    for (const auto& line : lines_of(help(words))) {
        if (line.rfind("  --", 0) == 0) {
            flags.insert(line.substr(2, line.find(' ', 2) - 2));
        }
    }
    return flags;
}

// Each command alone and with each of its subcommands.
std::vector<std::vector<std::string>> every_invocation() {
    std::vector<std::vector<std::string>> invocations;
    for (const auto& command : commands()) {
        invocations.push_back({command});
        for (const auto& sub : subcommands(command)) {
            invocations.push_back({command, sub});
        }
    }
    return invocations;
}

std::string roff_minus(std::string text) {
    std::string out;
    for (const char c : text) {
        out += c == '-' ? std::string("\\-") : std::string(1, c);
    }
    return out;
}

TEST(Packaging, HelpListsTheCommandsThePackageDocuments) {
    const auto found = commands();
    for (const char* command : {"join", "service", "routes", "peer", "cleanup"}) {
        EXPECT_NE(std::find(found.begin(), found.end(), command), found.end()) << command;
    }
    EXPECT_EQ(subcommands("routes"), (std::vector<std::string>{"flush", "show", "sync"}));
    EXPECT_EQ(subcommands("peer"), (std::vector<std::string>{"add", "remove"}));
}

TEST(Packaging, ManPageDocumentsEveryCommandAndFlag) {
    const std::string page = run_checked({kSource + "/tools/gen-manpage", WGMESH_BINARY});
    EXPECT_EQ(page.rfind(".TH WGMESH 8 ", 0), 0u);
    for (const char* section : {".SH FILES", ".SH SIGNALS", ".SH EXIT STATUS", ".SH ENVIRONMENT"}) {
        EXPECT_NE(page.find(section), std::string::npos) << section;
    }
    std::size_t flags_checked = 0;
    for (const auto& words : every_invocation()) {
        if (words.size() == 1) {
            EXPECT_NE(page.find(".SS wgmesh " + words[0] + "\n"), std::string::npos) << words[0];
        }
        for (const auto& flag : flags_of(words)) {
            ++flags_checked;
            EXPECT_NE(page.find("\\fB" + roff_minus(flag) + "\\fR"), std::string::npos)
                << "wgmesh " << words[0] << (words.size() > 1 ? " " + words[1] : "") << " " << flag;
        }
    }
    EXPECT_GT(flags_checked, 50u);
}

TEST(Packaging, ManPageIsValidRoff) {
    if (!test::program_exists("groff")) {
        GTEST_SKIP() << "groff is not installed";
    }
    const std::string page = run_checked({kSource + "/tools/gen-manpage", WGMESH_BINARY});
    const auto result =
        run_command({"groff", "-man", "-Tutf8", "-ww", "-z", "-rCHECKSTYLE=3"}, page);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.err, "");
}

// What the completion offers after `wgmesh WORDS... CURRENT`, one candidate a line.
std::set<std::string> complete(const std::vector<std::string>& words) {
    std::string script = "source '" + kSource + "/tools/wgmesh-completion.bash'\nCOMP_WORDS=('" +
                         std::string(WGMESH_BINARY) + "'";
    for (const auto& word : words) {
        script += " '" + word + "'";
    }
    script += ")\nCOMP_CWORD=" + std::to_string(words.size()) +
              "\n_wgmesh\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
    const auto lines = lines_of(run_checked({"bash", "--norc", "-s"}, script));
    return {lines.begin(), lines.end()};
}

TEST(Packaging, CompletionOffersEveryCommandSubcommandAndFlag) {
    const auto offered_commands = complete({""});
    for (const auto& command : commands()) {
        EXPECT_TRUE(offered_commands.count(command)) << command;
    }
    for (const auto& words : every_invocation()) {
        auto prefix = words;
        if (words.size() == 1) {
            const auto subs = subcommands(words[0]);
            const auto offered = complete({words[0], ""});
            for (const auto& sub : subs) {
                EXPECT_TRUE(offered.count(sub)) << words[0] << " " << sub;
            }
            if (!subs.empty()) {
                continue;  // its flags are completed after a subcommand
            }
        }
        prefix.push_back("--");
        const auto offered = complete(prefix);
        for (const auto& flag : flags_of(words)) {
            EXPECT_TRUE(offered.count(flag)) << words[0] << " " << flag;
        }
    }
    EXPECT_EQ(complete({"routes", "sy"}), (std::set<std::string>{"sync"}));
    EXPECT_EQ(complete({"join", "--no-k"}), (std::set<std::string>{"--no-kernel-monitor"}));
}

}  // namespace
}  // namespace wgmesh
