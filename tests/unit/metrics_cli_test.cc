// `wgmesh metrics` against a stand-in daemon: a control socket served in the test process,
// answering method "metrics" as the daemon does (or as an older daemon, or wrongly).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "mesh/control_server.h"
#include "mesh/metrics.h"
#include "tests/support/mesh_node.h"
#include "tests/support/process.h"

namespace wgmesh {
namespace {

using nlohmann::json;
using test::run_command;

class MetricsCli : public ::testing::Test {
  protected:
    std::string socket() const { return (dir_.path() / "wgm0.sock").string(); }

    // Serves `answer` for method "metrics", and what the daemon answers for other methods.
    mesh::ControlServer serve(json answer) {
        return mesh::ControlServer(socket(), [answer](const mesh::ControlRequest& request) {
            if (request.method != "metrics") {
                throw std::invalid_argument("unknown method \"" + request.method + "\"");
            }
            if (!request.params.empty()) {
                throw std::invalid_argument("metrics takes no params");
            }
            return answer;
        });
    }

    test::TempDir dir_;
};

TEST_F(MetricsCli, PrintsTheDaemonsTextAsItIs) {
    mesh::MetricsSnapshot snapshot;
    snapshot.version = "0.1.0";
    snapshot.peers = {{std::string(43, 'A') + "=", "host \"q\"", 1, 2, 3}};
    snapshot.forwarding_path_ok = true;
    const std::string text = mesh::render_metrics(snapshot);
    const auto server = serve({{"text", text}});
    const auto result = run_command({WGMESH_BINARY, "metrics", "--socket", socket()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, text);
    EXPECT_EQ(result.err, "");
}

TEST_F(MetricsCli, AnOlderDaemonIsToldApart) {
    const auto server = mesh::ControlServer(socket(), [](const mesh::ControlRequest& request) {
        // What a daemon without the method answers.
        throw std::invalid_argument("unknown method \"" + request.method +
                                    "\" (status, peers, peer.add, peer.remove, cache.save)");
        return json();
    });
    const auto result = run_command({WGMESH_BINARY, "metrics", "--socket", socket()});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_NE(result.err.find("does not serve metrics: it runs an older wgmesh"), std::string::npos)
        << result.err;
}

TEST_F(MetricsCli, NoDaemonIsAClearError) {
    const auto result = run_command({WGMESH_BINARY, "metrics", "--socket", socket()});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_NE(result.err.find("no daemon answers on " + socket()), std::string::npos) << result.err;
}

TEST_F(MetricsCli, AnswersWithoutPrintableTextAreRefused) {
    for (const json& answer :
         {json::object(), json{{"text", 5}}, json{{"text", "a\x1b[2Jb\n"}}, json("text")}) {
        const auto server = serve(answer);
        const auto result = run_command({WGMESH_BINARY, "metrics", "--socket", socket()});
        EXPECT_EQ(result.exit_code, 1) << answer.dump();
        EXPECT_EQ(result.out, "");
        EXPECT_NE(result.err.find("answered without printable metrics text"), std::string::npos)
            << result.err;
    }
}

TEST_F(MetricsCli, NeedsAnInterfaceOrASocket) {
    auto result = run_command({WGMESH_BINARY, "metrics"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("--interface IF (or --socket PATH) is required"), std::string::npos)
        << result.err;
    result = run_command({WGMESH_BINARY, "metrics", "--interface", "bad/name"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("is not a usable interface name"), std::string::npos) << result.err;
    result = run_command({WGMESH_BINARY, "metrics", "--help"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_TRUE(result.out.starts_with("usage: wgmesh metrics --interface IF")) << result.out;
    EXPECT_EQ(result.out.back(), '\n');
}

}  // namespace
}  // namespace wgmesh
