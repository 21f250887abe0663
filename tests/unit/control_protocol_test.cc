#include "mesh/control_protocol.h"

#include <gtest/gtest.h>

namespace wgmesh::mesh {
namespace {

TEST(ControlProtocol, ParsesMethodAndParams) {
    const auto request = parse_control_request(R"({"method":"peer.add","params":{"a":1}})");
    EXPECT_EQ(request.method, "peer.add");
    EXPECT_EQ(request.params["a"], 1);
    EXPECT_TRUE(parse_control_request(R"({"method":"status"})").params.empty());
}

TEST(ControlProtocol, RejectsMalformedRequests) {
    for (const char* bad : {"", "nope", "[]", "{}", R"({"method":1})", R"({"method":""})",
                            R"({"method":"status","params":[]})",
                            R"({"method":"status","extra":true})", R"({"method":"status")"}) {
        EXPECT_THROW(parse_control_request(bad), std::invalid_argument) << bad;
    }
}

TEST(ControlProtocol, AnUnknownFieldNameIsEscapedInTheError) {
    // JSON escapes decode to raw bytes: a terminal escape sequence and a bidi override.
    try {
        parse_control_request(R"({"method":"status","\u001b[2J\u202e":1})");
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        EXPECT_EQ(what, "unknown request field \"\\x1b[2J\\u202e\"");
        EXPECT_EQ(what.find('\x1b'), std::string::npos) << what;
    }
    try {
        std::string request = R"({"method":"status",")";
        request.append(10000, 'k');
        request += R"(":1})";
        parse_control_request(request);
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& e) {
        EXPECT_LT(std::string(e.what()).size(), 200u) << "a long name is cut";
    }
}

TEST(ControlProtocol, RejectsDeepNestingAndOversizedLines) {
    const std::string deep = R"({"method":"x","params":{"a":)" + std::string(10000, '[') +
                             std::string(10000, ']') + "}}";
    EXPECT_THROW(parse_control_request(deep), std::invalid_argument);
    const std::string big =
        R"({"method":"x","params":{"a":")" + std::string(kMaxControlLineBytes, 'a') + "\"}}";
    EXPECT_THROW(parse_control_request(big), std::invalid_argument);
}

TEST(ControlProtocol, FormatsOneLineReplies) {
    EXPECT_EQ(format_control_result({{"n", 1}}), "{\"ok\":true,\"result\":{\"n\":1}}\n");
    EXPECT_EQ(format_control_error("bad\nthing"), "{\"error\":\"bad\\nthing\",\"ok\":false}\n");
    // Invalid UTF-8 coming from a peer's hostname must not make the reply throw.
    EXPECT_NO_THROW(format_control_result({{"h", std::string("\xff\xfe")}}));
}

}  // namespace
}  // namespace wgmesh::mesh
