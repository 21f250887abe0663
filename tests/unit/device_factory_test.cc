// Backend choice without privileges: a socket that answers means UAPI, anything else means
// the kernel (which, without the module, is a clear error rather than a silent fallback);
// a backend chosen with --wireguard-backend is opened whatever the socket says.
#include "wg/device_factory.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <system_error>

#include "wg/kernel_backend.h"

namespace wgmesh::wg {
namespace {

class SocketDir {
  public:
    SocketDir() {
        char dir_template[] = "/tmp/wgmesh-factory-test-XXXXXX";
        dir_ = mkdtemp(dir_template);
    }
    ~SocketDir() {
        if (fd_ >= 0)
            close(fd_);
        std::filesystem::remove_all(dir_);
    }
    // A listening socket for `name` (connections are accepted by the kernel's backlog).
    void listen_for(const std::string& name) {
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        const std::string path = dir_ + "/" + name + ".sock";
        std::strcpy(address.sun_path, path.c_str());
        ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        ASSERT_EQ(listen(fd_, 4), 0);
    }
    // A socket file nobody listens on any more (a crashed daemon's).
    void stale_for(const std::string& name) {
        listen_for(name);
        close(fd_);
        fd_ = -1;
    }
    const std::string& path() const { return dir_; }

  private:
    std::string dir_;
    int fd_ = -1;
};

TEST(DeviceFactory, AnsweringSocketMeansUserspace) {
    SocketDir dir;
    dir.listen_for("wgt0");
    DeviceOptions options;
    options.socket_directory = dir.path();
    EXPECT_EQ(detect_backend("wgt0", options), Backend::kUserspace);
    const auto device = open_device("wgt0", options);
    ASSERT_NE(dynamic_cast<UapiDevice*>(device.get()), nullptr);
    EXPECT_EQ(device->interface_name(), "wgt0");
}

TEST(DeviceFactory, StaleOrMissingSocketMeansKernel) {
    SocketDir dir;
    dir.stale_for("wgt0");
    DeviceOptions options;
    options.socket_directory = dir.path();
    EXPECT_EQ(detect_backend("wgt0", options), Backend::kKernel);
    EXPECT_EQ(detect_backend("wgt1", options), Backend::kKernel);
    try {
        const auto device = open_device("wgt0", options);
        EXPECT_NE(dynamic_cast<KernelDevice*>(device.get()), nullptr);
    } catch (const std::system_error& e) {
        // No WireGuard module: the genl family does not exist, and the error says so.
        EXPECT_EQ(e.code().value(), ENOENT) << e.what();
        EXPECT_NE(std::string(e.what()).find("wireguard"), std::string::npos) << e.what();
    }
}

TEST(DeviceFactory, BackendChoiceNamesRoundTrip) {
    for (const auto choice :
         {BackendChoice::kAuto, BackendChoice::kKernel, BackendChoice::kUserspace}) {
        EXPECT_EQ(parse_backend_choice(backend_choice_name(choice)), choice);
    }
    EXPECT_EQ(parse_backend_choice("auto"), BackendChoice::kAuto);
    EXPECT_EQ(parse_backend_choice("kernel"), BackendChoice::kKernel);
    EXPECT_EQ(parse_backend_choice("userspace"), BackendChoice::kUserspace);
    for (const char* bad : {"", "Auto", "wireguard-go", "kernel ", "uapi"}) {
        EXPECT_FALSE(parse_backend_choice(bad).has_value()) << bad;
    }
    EXPECT_EQ(DeviceOptions{}.backend, BackendChoice::kAuto);
}

TEST(DeviceFactory, ChosenBackendIsOpenedWhateverTheSocketSays) {
    SocketDir dir;
    dir.listen_for("wgt0");
    DeviceOptions options;
    options.socket_directory = dir.path();
    options.backend = BackendChoice::kUserspace;
    // No socket for wgt1: still the UAPI backend, whose calls then fail naming the socket.
    const auto device = open_device("wgt1", options);
    ASSERT_NE(dynamic_cast<UapiDevice*>(device.get()), nullptr);
    // detect_backend() detects, like wg(8), whatever was chosen.
    EXPECT_EQ(detect_backend("wgt0", options), Backend::kUserspace);
    EXPECT_EQ(detect_backend("wgt1", options), Backend::kKernel);

    options.backend = BackendChoice::kKernel;
    try {
        const auto kernel = open_device("wgt0", options);
        EXPECT_NE(dynamic_cast<KernelDevice*>(kernel.get()), nullptr);
    } catch (const std::system_error& e) {
        // No WireGuard module: the genl family does not exist, and the error says so.
        EXPECT_EQ(e.code().value(), ENOENT) << e.what();
        EXPECT_NE(std::string(e.what()).find("wireguard"), std::string::npos) << e.what();
    }
}

TEST(DeviceFactory, RejectsBadNames) {
    EXPECT_THROW(detect_backend("../x"), std::invalid_argument);
    EXPECT_THROW(open_device(""), std::invalid_argument);
    EXPECT_THROW(ensure_interface("name with space"), std::invalid_argument);
    EXPECT_THROW(remove_interface("waytoolonginterfacename"), std::invalid_argument);
    DeviceOptions userspace;
    userspace.backend = BackendChoice::kUserspace;
    EXPECT_THROW(open_device("../x", userspace), std::invalid_argument);
}

}  // namespace
}  // namespace wgmesh::wg
