#include "mesh/terminal_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mesh/hostname.h"

namespace wgmesh::mesh {
namespace {

TEST(Utf8, ValidAndInvalidSequences) {
    for (const std::string& good :
         std::vector<std::string>{"", "plain", "Büro", "路由器", "emoji-🚀", "\xef\xbf\xbd",
                                  "\xf4\x8f\xbf\xbf", std::string("nul\0inside", 10)}) {
        EXPECT_TRUE(is_valid_utf8(good)) << good;
    }
    for (const std::string& bad : std::vector<std::string>{
             "\xff",              // never valid
             "\xc0\x80",          // overlong NUL
             "\xe0\x80\xaf",      // overlong '/'
             "\xed\xa0\x80",      // UTF-16 surrogate
             "\xf4\x90\x80\x80",  // above U+10FFFF
             "\xe8\xb7",          // truncated
             "a\x80z",            // stray continuation byte
         }) {
        EXPECT_FALSE(is_valid_utf8(bad)) << bad;
    }
}

TEST(TerminalSafe, PrintableUtf8PassesThroughUnchanged) {
    for (const std::string& text : std::vector<std::string>{
             "edge co", "Büro-Router", "路由器", "emoji-🚀", "<b> & co", "repl-\xef\xbf\xbd"}) {
        EXPECT_EQ(terminal_safe(text), text);
    }
}

TEST(TerminalSafe, EscapesWhatATerminalWouldActOn) {
    EXPECT_EQ(terminal_safe("\x1b[2Jboom"), "\\x1b[2Jboom");
    EXPECT_EQ(terminal_safe(std::string("a\0b", 3)), "a\\x00b");
    EXPECT_EQ(terminal_safe("line\nbreak\r\t"), "line\\x0abreak\\x0d\\x09");
    EXPECT_EQ(terminal_safe("del\x7f"), "del\\x7f");
    EXPECT_EQ(terminal_safe("c1\xc2\x9b"), "c1\\u009b");  // CSI as a C1 control
    EXPECT_EQ(terminal_safe("evil\xe2\x80\xaetxt.exe"), "evil\\u202etxt.exe");
    EXPECT_EQ(terminal_safe("iso\xe2\x81\xa6x"), "iso\\u2066x");
    EXPECT_EQ(terminal_safe("ls\xe2\x80\xa8x"), "ls\\u2028x");
    EXPECT_EQ(terminal_safe("bom\xef\xbb\xbf"), "bom\\ufeff");
    EXPECT_EQ(terminal_safe("bad\xff\xfe"), "bad\\xff\\xfe");
    EXPECT_EQ(terminal_safe("cut\xe8\xb7"), "cut\\xe8\\xb7");
    EXPECT_EQ(terminal_safe("back\\slash"), "back\\\\slash");
}

TEST(TerminalSafe, OutputIsAlwaysPrintableValidUtf8) {
    std::string every_byte;
    for (int b = 0; b < 256; ++b) {
        every_byte += static_cast<char>(b);
    }
    const std::string out = terminal_safe(every_byte);
    EXPECT_TRUE(is_valid_utf8(out));
    for (const char c : out) {
        const auto byte = static_cast<unsigned char>(c);
        EXPECT_TRUE(byte >= 0x20 && byte != 0x7f) << int(byte);
    }
}

TEST(TerminalSafe, CutsLongTextAtACharacterBoundary) {
    EXPECT_EQ(terminal_safe("abcdef", 3), "abc...");
    EXPECT_EQ(terminal_safe("ab\xc3\xa9z", 3), "ab...");  // é does not fit
    EXPECT_EQ(terminal_safe("abc", 3), "abc");
}

TEST(Hostname, AnyPrintableUtf8UpTo253Bytes) {
    for (const std::string& ok :
         std::vector<std::string>{"", "node-a", "edge co", "Büro-Router", "路由器", "emoji-🚀",
                                  "<b>", "a\\b", "evil\xe2\x80\xaetxt", std::string(253, 'x')}) {
        EXPECT_FALSE(hostname_problem(ok)) << ok << ": " << hostname_problem(ok).value_or("");
    }
}

TEST(Hostname, ProblemsNameTheirCause) {
    const std::pair<std::string, std::string> bad[] = {
        {std::string(254, 'x'), "254 bytes long"},
        {"bad\xff", "not valid UTF-8"},
        {"over\xc0\x80long", "not valid UTF-8"},
        {"esc\x1b", "control character U+001B"},
        {std::string("nul\0", 4), "control character U+0000"},
        {"del\x7f", "control character U+007F"},
        {"c1\xc2\x85", "control character U+0085"},
        {"c1\xc2\x9f", "control character U+009F"},
    };
    for (const auto& [name, reason] : bad) {
        const auto problem = hostname_problem(name);
        ASSERT_TRUE(problem) << terminal_safe(name);
        EXPECT_NE(problem->find(reason), std::string::npos) << *problem;
        EXPECT_TRUE(is_valid_utf8(*problem));
    }
}

}  // namespace
}  // namespace wgmesh::mesh
