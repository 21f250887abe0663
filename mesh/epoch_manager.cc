#include "mesh/epoch_manager.h"

#include <stdexcept>

namespace wgmesh::mesh {

EpochManager::EpochManager(const EpochSeed& seed, wg::Key self, PeerSource peers,
                           std::chrono::milliseconds interval, DandelionRouter::FluffCoin coin)
    : router_(seed, self, std::move(coin)), peers_(std::move(peers)), interval_(interval) {
    if (!peers_) {
        throw std::invalid_argument("EpochManager needs a peer source");
    }
}

EpochManager::~EpochManager() {
    stop();
}

void EpochManager::start() {
    std::lock_guard lock(mutex_);
    if (started_) {
        throw std::logic_error("EpochManager started twice");
    }
    started_ = true;
    thread_ = std::thread([this] { run(); });
}

void EpochManager::stop() {
    std::thread thread;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        thread = std::move(thread_);
    }
    wake_.notify_all();
    if (thread.joinable()) {
        thread.join();
    }
}

void EpochManager::rotate_now() {
    // A failing peer source must not end rotation: keep the relays we have until it works.
    try {
        const std::vector<Peer> peers = peers_();
        router_.rotate(peers);
    } catch (const std::exception&) {
        router_.rotate(router_.epoch().relays);
    }
}

void EpochManager::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        rotate_now();
        lock.lock();
        wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
}

}  // namespace wgmesh::mesh
