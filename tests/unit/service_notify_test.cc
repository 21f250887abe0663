#include "tools/wgmesh/daemon/service_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>

#include "netlink/unique_fd.h"

namespace wgmesh::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Sets (or, with nullopt, unsets) one environment variable for a test's lifetime.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name)) {
            old_ = old;
        }
        set(value);
    }
    ~ScopedEnv() { set(old_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    void set(const std::optional<std::string>& value) {
        if (value) {
            ::setenv(name_, value->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    const char* name_;
    std::optional<std::string> old_;
};

// A datagram socket standing in for the service manager's notify socket: a path, or with
// `abstract` a name in the abstract namespace (its length exact, no NUL after it).
netlink::UniqueFd bind_datagram_socket(const std::string& name, bool abstract) {
    netlink::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    EXPECT_TRUE(fd);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path + (abstract ? 1 : 0), name.data(), name.size());
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length), 0)
        << std::strerror(errno);
    return fd;
}

std::string receive(int fd) {
    std::array<char, 256> buffer{};
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    return n < 0 ? std::string("<nothing: ") + std::strerror(errno) + ">"
                 : std::string(buffer.data(), static_cast<std::size_t>(n));
}

TEST(ServiceNotify, SendsTheStateToThePathSocket) {
    const fs::path path =
        fs::temp_directory_path() / ("wgmesh-notify-" + std::to_string(::getpid()));
    fs::remove(path);
    auto manager = bind_datagram_socket(path.string(), false);
    ScopedEnv env("NOTIFY_SOCKET", path.string());
    EXPECT_TRUE(notify_service_manager("READY=1"));
    EXPECT_EQ(receive(manager.get()), "READY=1");
    EXPECT_TRUE(notify_service_manager("STOPPING=1"));
    EXPECT_EQ(receive(manager.get()), "STOPPING=1");
    fs::remove(path);
}

TEST(ServiceNotify, SendsTheStateToAnAbstractSocket) {
    const std::string name = "wgmesh-notify-abstract-" + std::to_string(::getpid());
    auto manager = bind_datagram_socket(name, true);
    ScopedEnv env("NOTIFY_SOCKET", "@" + name);
    EXPECT_TRUE(notify_service_manager("WATCHDOG=1"));
    EXPECT_EQ(receive(manager.get()), "WATCHDOG=1");
}

TEST(ServiceNotify, IsANoOpWithoutAManagerOrWithAnUnusableSocketName) {
    {
        ScopedEnv env("NOTIFY_SOCKET", std::nullopt);
        EXPECT_FALSE(notify_service_manager("READY=1"));
    }
    for (const std::string& name : std::initializer_list<std::string>{
             "", "@", "relative/path", "vsock:2:1234", "/nonexistent/wgmesh/notify",
             "/" + std::string(200, 'x')}) {
        ScopedEnv env("NOTIFY_SOCKET", name);
        EXPECT_FALSE(notify_service_manager("READY=1")) << name;
    }
}

TEST(ServiceNotify, WatchdogPeriodComesFromTheEnvironmentForThisProcessOnly) {
    const std::string self = std::to_string(::getpid());
    {
        ScopedEnv usec("WATCHDOG_USEC", "30000000");
        ScopedEnv pid("WATCHDOG_PID", self);
        EXPECT_EQ(service_watchdog_period(), std::chrono::microseconds(30s));
    }
    {
        ScopedEnv usec("WATCHDOG_USEC", "1500");
        ScopedEnv pid("WATCHDOG_PID", std::nullopt);
        EXPECT_EQ(service_watchdog_period(), std::chrono::microseconds(1500));
    }
    {
        ScopedEnv usec("WATCHDOG_USEC", "30000000");
        ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid() + 1));
        EXPECT_EQ(service_watchdog_period(), std::nullopt);
    }
    ScopedEnv pid("WATCHDOG_PID", std::nullopt);
    for (const char* bad :
         {"", "0", "-5", "12x", " 12", "99999999999999999999999", "18446744073709551615"}) {
        ScopedEnv usec("WATCHDOG_USEC", std::string(bad));
        EXPECT_EQ(service_watchdog_period(), std::nullopt) << bad;
    }
    ScopedEnv usec("WATCHDOG_USEC", std::nullopt);
    EXPECT_EQ(service_watchdog_period(), std::nullopt);
}

}  // namespace
}  // namespace wgmesh::cli
