#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "mesh/control_server.h"

namespace wgmesh::mesh {
namespace {

class ControlServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/wgmesh-control-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ / "run" / "wg0.sock";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path dir_;
    std::filesystem::path path_;
};

nlohmann::json echo_handler(const ControlRequest& request) {
    if (request.method == "fail")
        throw std::runtime_error("asked to fail");
    return {{"method", request.method}, {"params", request.params}};
}

TEST_F(ControlServerTest, AnswersRequestsAndErrors) {
    ControlServer server(path_, echo_handler);
    struct stat st {};
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(stat(path_.parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);

    auto ok = control_call(path_, {"status", {{"x", 2}}});
    EXPECT_TRUE(ok["ok"].get<bool>());
    EXPECT_EQ(ok["result"]["params"]["x"], 2);
    auto failed = control_call(path_, {"fail", nlohmann::json::object()});
    EXPECT_FALSE(failed["ok"].get<bool>());
    EXPECT_EQ(failed["error"], "asked to fail");
}

TEST_F(ControlServerTest, RefusesSecondServerAndReplacesStaleSocket) {
    {
        ControlServer server(path_, echo_handler);
        EXPECT_THROW(ControlServer(path_, echo_handler), std::runtime_error);
    }
    // A socket file left by a killed daemon: nobody answers, so it is replaced.
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
    ControlServer server(path_, echo_handler);
    EXPECT_TRUE(control_call(path_, {"status", {}})["ok"].get<bool>());
}

TEST_F(ControlServerTest, GarbageAndStuckClientsDoNotStopService) {
    ControlServer server(path_, echo_handler, std::chrono::milliseconds(200));
    // A client that connects and sends nothing is dropped after the deadline.
    const int stuck = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    ASSERT_EQ(connect(stuck, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const std::string garbage = std::string(200000, 'x');
    [[maybe_unused]] auto n = send(stuck, garbage.data(), garbage.size(), MSG_NOSIGNAL);
    // Served once the stuck client's 200 ms are up; the client's own bound is generous, as
    // a loaded TSan run can deschedule the server thread for seconds.
    auto reply = control_call(path_, {"status", {}}, std::chrono::seconds(60));
    EXPECT_TRUE(reply["ok"].get<bool>());
    close(stuck);
}

TEST_F(ControlServerTest, ConcurrentClientsAllAnswered) {
    ControlServer server(path_, echo_handler);
    std::atomic<int> answered{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
        clients.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                auto r = control_call(path_, {"status", {{"t", t}, {"i", i}}});
                if (r["ok"].get<bool>() && r["result"]["params"]["i"] == i)
                    ++answered;
            }
        });
    }
    for (auto& c : clients)
        c.join();
    EXPECT_EQ(answered.load(), 100);
}

TEST(ControlCall, ClearErrorWhenNoDaemon) {
    try {
        control_call("/nonexistent-dir/wg0.sock", {"status", {}});
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot reach the wgmesh daemon"), std::string::npos);
    }
}

}  // namespace
}  // namespace wgmesh::mesh
