// UapiDevice against a scripted fake UAPI server on a unix socket in a temporary directory:
// what goes over the wire, and how broken or hostile servers are reported.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>

#include "wg/uapi_backend.h"
#include "wg/uapi_protocol.h"

namespace wgmesh::wg {
namespace {

// Serves `replies.size()` connections: reads each request through its blank line, records
// it, then runs the scripted reply writer for that connection.
class FakeUapiServer {
  public:
    using Reply = std::function<void(int fd)>;

    explicit FakeUapiServer(std::vector<Reply> replies) : replies_(std::move(replies)) {
        char dir_template[] = "/tmp/wgmesh-uapi-test-XXXXXX";
        dir_ = mkdtemp(dir_template);
        path_ = dir_ + "/wgt0.sock";
        listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, path_.c_str());
        if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
            listen(listen_fd_, 8) != 0) {
            throw std::system_error(errno, std::generic_category(), "fake server");
        }
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeUapiServer() {
        shutdown(listen_fd_, SHUT_RDWR);
        thread_.join();
        close(listen_fd_);
        std::filesystem::remove_all(dir_);
    }

    const std::string& dir() const { return dir_; }
    std::vector<std::string> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }

    static Reply text(std::string reply) {
        return [reply](int fd) { write_all(fd, reply); };
    }
    static void write_all(int fd, std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0)
                return;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

  private:
    void serve() {
        for (auto& reply : replies_) {
            const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0)
                return;
            std::string request;
            char buffer[4096];
            while (!uapi_reply_length(request.substr(request.find('\n') + 1))) {
                const ssize_t n = read(fd, buffer, sizeof(buffer));
                if (n <= 0)
                    break;
                request.append(buffer, static_cast<std::size_t>(n));
            }
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(request);
            }
            reply(fd);
            close(fd);
        }
    }

    std::vector<Reply> replies_;
    std::string dir_, path_;
    int listen_fd_ = -1;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::string> requests_;
};

const std::string kPeer = "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceae61f4b3fa4";
const std::string kGetReply = "listen_port=51820\npublic_key=" + kPeer +
                              "\nprotocol_version=1\npersistent_keepalive_interval=0\n"
                              "allowed_ip=10.0.0.2/32\nerrno=0\n\n";

DeviceConfig desired_config() {
    DeviceConfig desired;
    desired.listen_port = 51820;
    PeerConfig peer;
    peer.public_key = *Key::parse(kPeer);
    peer.allowed_ips = {netlink::Prefix::parse_or_throw("10.0.0.2/32")};
    desired.peers.push_back(peer);
    return desired;
}

TEST(UapiDevice, GetSendsGetAndParses) {
    FakeUapiServer server({FakeUapiServer::text(kGetReply)});
    UapiDevice device("wgt0", server.dir());
    const DeviceConfig config = device.get();
    EXPECT_EQ(config.listen_port, 51820);
    ASSERT_EQ(config.peers.size(), 1u);
    EXPECT_EQ(server.requests(), std::vector<std::string>{"get=1\n\n"});
    EXPECT_TRUE(UapiDevice::socket_answers(device.socket_path()));
}

TEST(UapiDevice, UnchangedConfigSendsNoSetTransaction) {
    FakeUapiServer server({FakeUapiServer::text(kGetReply)});
    UapiDevice device("wgt0", server.dir());
    device.apply(desired_config());
    EXPECT_EQ(device.transactions_sent(), 0u);
    EXPECT_EQ(server.requests().size(), 1u);
}

TEST(UapiDevice, ChangesGoInOneSetTransaction) {
    FakeUapiServer server({FakeUapiServer::text(kGetReply), FakeUapiServer::text("errno=0\n\n")});
    UapiDevice device("wgt0", server.dir());
    DeviceConfig desired = desired_config();
    desired.listen_port = 51821;
    desired.peers[0].persistent_keepalive = 5;
    PeerConfig added;
    added.public_key = Key::generate_private().public_key();
    desired.peers.push_back(added);
    device.apply(desired);
    EXPECT_EQ(device.transactions_sent(), 1u);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[1], "set=1\nlisten_port=51821\npublic_key=" + kPeer +
                               "\npersistent_keepalive_interval=5\npublic_key=" +
                               added.public_key.to_hex() + "\n\n");
}

TEST(UapiDevice, ErrnoReplyNamesTheDeviceAndTheError) {
    FakeUapiServer server({FakeUapiServer::text(kGetReply), FakeUapiServer::text("errno=-98\n\n")});
    UapiDevice device("wgt0", server.dir());
    DeviceConfig desired = desired_config();
    desired.listen_port = 1;
    try {
        device.apply(desired);
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE);
        const std::string what = e.what();
        EXPECT_NE(what.find("wgt0"), std::string::npos) << what;
        EXPECT_NE(what.find("Address already in use"), std::string::npos) << what;
    }
}

TEST(UapiDevice, HostileServersGiveErrorsNotCrashes) {
    const std::vector<FakeUapiServer::Reply> hostile = {
        FakeUapiServer::text(""),                          // closes at once
        FakeUapiServer::text("listen_port=5\n"),           // truncated
        FakeUapiServer::text("listen_port=5\nerrno=0\n"),  // no blank line
        FakeUapiServer::text("private_key=xyz\nerrno=0\n\n"),
        FakeUapiServer::text("errno=0\n\ntrailing"),
        FakeUapiServer::text("surprise=1\nerrno=0\n\n"),
        [](int fd) {  // endless line, never a blank one
            const std::string chunk(1 << 20, 'a');
            for (std::size_t sent = 0; sent <= kMaxUapiReplyBytes + chunk.size();
                 sent += chunk.size())
                FakeUapiServer::write_all(fd, chunk);
        },
    };
    // The deadline is not under test here (SilentServerTimesOut tests it): every scripted
    // server ends by closing its connection, so the wait always ends by itself, and the bound
    // only has to outlast the slowest machine (case 6 moves 34 MiB, which a loaded 2-core TSan
    // run needed more than 5 s for).
    constexpr std::chrono::minutes kNotTheDeadline{5};
    for (std::size_t i = 0; i < hostile.size(); ++i) {
        FakeUapiServer server({hostile[i]});
        UapiDevice device("wgt0", server.dir(), kNotTheDeadline);
        try {
            device.get();
            ADD_FAILURE() << "case " << i << ": no exception";
        } catch (const UapiProtocolError&) {
        } catch (const std::exception& e) {
            ADD_FAILURE() << "case " << i << ": not a protocol error: " << e.what();
        }
    }
}

TEST(UapiDevice, SilentServerTimesOut) {
    // The server stays silent until the client has given up, however slow the machine is
    // (a fixed silence could end before a descheduled client's deadline); 60 s bound it
    // should the client never give up.
    std::atomic<bool> client_done{false};
    FakeUapiServer server({[&client_done](int) {
        const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!client_done && std::chrono::steady_clock::now() < limit)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }});
    struct Done {
        std::atomic<bool>& flag;
        ~Done() { flag = true; }
    } done{client_done};
    UapiDevice device("wgt0", server.dir(), std::chrono::milliseconds(200));
    try {
        device.get();
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ETIMEDOUT);
    }
}

TEST(UapiDevice, MissingSocketIsAClearError) {
    UapiDevice device("wgt0", "/nonexistent-wgmesh-dir");
    EXPECT_FALSE(UapiDevice::socket_answers(device.socket_path()));
    try {
        device.get();
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
        EXPECT_NE(std::string(e.what()).find("/nonexistent-wgmesh-dir/wgt0.sock"),
                  std::string::npos);
    }
    EXPECT_THROW(UapiDevice("../etc"), std::invalid_argument);
    EXPECT_THROW(UapiDevice("a-very-long-interface-name"), std::invalid_argument);
    EXPECT_THROW(UapiDevice(""), std::invalid_argument);
}

}  // namespace
}  // namespace wgmesh::wg
