// The mesh secret parser against the Go daemon's rules (its parseSecret, strings.TrimSpace and
// DeriveKeys' minimum length): every form below gives the Go daemon's mesh, or is rejected
// where the Go daemon rejects it.
#include "mesh/secret.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace wgmesh::mesh {
namespace {

const std::string kSecret = "mesh-secret-0123456789";  // 22 bytes

struct Form {
    const char* name;
    std::string input;
    std::string expected;
    bool trimmed_unicode_space;
};

// The forms the Go daemon trims or accepts and an earlier wgmesh did not.
TEST(MeshSecret, UnicodeSpacesAreTrimmedAndReported) {
    const Form forms[] = {
        {"no-break spaces", "\u00a0" + kSecret + "\u00a0", kSecret, true},
        {"ideographic spaces", "\u3000" + kSecret + "\u3000", kSecret, true},
        {"em spaces", "\u2003" + kSecret + "\u2003", kSecret, true},
        {"next lines", "\u0085" + kSecret + "\u0085", kSecret, true},
        {"every other White_Space",
         "\u1680\u2000\u2001\u2002\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f"
         "\u205f" +
             kSecret + "\u2029\u3000 \t\r\n",
         kSecret, true},
        {"mixed with ASCII", " \t\u00a0 " + kSecret + "\r\n\u00a0\n", kSecret, true},
        {"inside a URI's surroundings", "\u00a0wgmesh://v1/" + kSecret + "\u00a0", kSecret, true},
    };
    for (const auto& form : forms) {
        const auto parsed = parse_secret(form.input);
        EXPECT_EQ(parsed.value, form.expected) << form.name;
        EXPECT_EQ(parsed.trimmed_unicode_space, form.trimmed_unicode_space) << form.name;
    }
}

TEST(MeshSecret, UriWithoutVersionIsTheWholeRest) {
    EXPECT_EQ(parse_secret("wgmesh://" + kSecret).value, kSecret);
    // Go returns the rest unchanged when no '/' follows the scheme: no cut at '?'.
    EXPECT_EQ(parse_secret("wgmesh://" + kSecret + "?x=1").value, kSecret + "?x=1");
}

// The forms both implementations already agreed on: they must stay so.
TEST(MeshSecret, FormsThatAlreadyAgreedStaySo) {
    const Form forms[] = {
        {"ASCII spaces", "   " + kSecret + "  ", kSecret, false},
        {"tabs", "\t" + kSecret + "\t\t", kSecret, false},
        {"CR/LF", kSecret + "\r\n", kSecret, false},
        {"vertical tab and form feed", "\v\f" + kSecret + "\f\v", kSecret, false},
        {"v1 URI with a query", "wgmesh://v1/" + kSecret + "?name=office&x=1", kSecret, false},
        {"v2 URI", "wgmesh://v2/" + kSecret, kSecret, false},
        {"slashes inside a URI's secret", "wgmesh://v1/" + kSecret + "/a/b", kSecret + "/a/b",
         false},
        {"slashes inside a plain secret", "abc/def/" + kSecret, "abc/def/" + kSecret, false},
        {"non-ASCII secret", "Geheimnis-über-alles-ß-路由器", "Geheimnis-über-alles-ß-路由器",
         false},
        {"inner spaces kept", "a b\u00a0c " + kSecret, "a b\u00a0c " + kSecret, false},
        {"exactly 16 bytes", "0123456789abcdef", "0123456789abcdef", false},
        {"16 bytes of non-ASCII", "ääääääää", "ääääääää", false},
        {"a URI that is not ours", "https://" + kSecret, "https://" + kSecret, false},
    };
    for (const auto& form : forms) {
        const auto parsed = parse_secret(form.input);
        EXPECT_EQ(parsed.value, form.expected) << form.name;
        EXPECT_EQ(parsed.trimmed_unicode_space, form.trimmed_unicode_space) << form.name;
    }
}

TEST(MeshSecret, TooShortAndEmptyFormsAreRejected) {
    for (const std::string& input :
         {std::string("wgmesh://"), std::string("wgmesh://v1/"), std::string("wgmesh://v1/?x"),
          std::string(""), std::string(" \t\r\n"), std::string("\u00a0\u3000"),
          std::string("0123456789abcde"), std::string(" 0123456789abcde \n"),
          std::string("wgmesh://v1/0123456789abcde"), std::string("wgmesh://0123456")}) {
        EXPECT_THROW(parse_secret(input), std::invalid_argument) << "'" << input << "'";
    }
    try {
        parse_secret("short");
        FAIL() << "a 5-byte secret was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("at least 16 bytes"), std::string::npos) << e.what();
    }
}

// Go's TrimSpace decodes UTF-8 strictly: what is not a valid White_Space code point stops it.
TEST(MeshSecret, OnlyValidWhiteSpaceCodePointsAreTrimmed) {
    const Form forms[] = {
        {"a lone 0x85 byte (Latin-1 NEL, invalid UTF-8)", "\x85" + kSecret + "\x85",
         "\x85" + kSecret + "\x85", false},
        {"a lone 0xa0 byte", "\xa0" + kSecret, "\xa0" + kSecret, false},
        {"an overlong space", "\xc0\xa0" + kSecret + "\xe0\x80\xa0",
         "\xc0\xa0" + kSecret + "\xe0\x80\xa0", false},
        {"a truncated no-break space", kSecret + "\xc2", kSecret + "\xc2", false},
        {"zero-width space (not White_Space)", "\u200b" + kSecret + "\u200b",
         "\u200b" + kSecret + "\u200b", false},
        {"byte order mark (not White_Space)", "\ufeff" + kSecret, "\ufeff" + kSecret, false},
        {"invalid byte stops the trim", " \xff\u00a0" + kSecret, "\xff\u00a0" + kSecret, false},
    };
    for (const auto& form : forms) {
        const auto parsed = parse_secret(form.input);
        EXPECT_EQ(parsed.value, form.expected) << form.name;
        EXPECT_EQ(parsed.trimmed_unicode_space, form.trimmed_unicode_space) << form.name;
    }
}

}  // namespace
}  // namespace wgmesh::mesh
