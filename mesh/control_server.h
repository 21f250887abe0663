// The daemon's control socket: a unix stream socket (0600) answering one JSON request per
// line on its own thread. Clients are served one at a time with a per-client deadline, so
// a stuck or hostile client can delay others by at most that deadline.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "mesh/control_protocol.h"

namespace wgmesh::mesh {

// Returns the result for a request; throws std::exception to answer {"ok": false}.
using ControlHandler = std::function<nlohmann::json(const ControlRequest&)>;

class ControlServer {
  public:
    // Creates the directory (0700) and the socket (0600); replaces a stale socket file but
    // refuses to start when another daemon still answers on it.
    ControlServer(std::filesystem::path path, ControlHandler handler,
                  std::chrono::milliseconds client_deadline = std::chrono::seconds(5));
    ~ControlServer();  // stops, joins and removes the socket file
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    const std::filesystem::path& path() const { return path_; }

  private:
    void serve();
    void serve_client(int fd);

    std::filesystem::path path_;
    ControlHandler handler_;
    std::chrono::milliseconds client_deadline_;
    int listen_fd_ = -1;
    int stop_fd_ = -1;  // eventfd that wakes the serving thread on shutdown
    std::thread thread_;
};

// Sends one request and returns the parsed response object ({"ok":..., ...}).
// Throws std::runtime_error when the daemon is not reachable or answers garbage.
nlohmann::json control_call(const std::filesystem::path& path, const ControlRequest& request,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Default socket path: /run/wgmesh/<iface>.sock
std::filesystem::path default_control_socket(const std::string& interface_name);

}  // namespace wgmesh::mesh
