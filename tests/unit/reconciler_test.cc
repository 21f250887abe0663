#include "mesh/reconciler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "mesh/derived_keys.h"
#include "mesh/mesh_address.h"
#include "netlink/route_diff.h"
#include "wg/config_diff.h"

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;
using netlink::InterfaceAddress;
using netlink::IpAddress;
using netlink::Prefix;
using netlink::Route;
using netlink::SocketAddress;

constexpr const char* kSecret = "reconciler-test-secret-0123456789";

class FakeDevice : public wg::WireGuardDevice {
  public:
    const std::string& interface_name() const override { return name_; }
    wg::DeviceConfig get() override {
        ++gets;
        if (fail_get) {
            throw std::runtime_error("get failed");
        }
        return current;
    }
    void apply(const wg::DeviceConfig& desired) override {
        applied.push_back(desired);
        if (fail_apply) {
            throw std::runtime_error("UAPI errno=22");
        }
        current = desired;
    }

    wg::DeviceConfig current;
    std::vector<wg::DeviceConfig> applied;
    int gets = 0;
    bool fail_get = false;
    bool fail_apply = false;

  private:
    std::string name_ = "wgtest";
};

class FakeRouteTable : public netlink::RouteTable {
  public:
    netlink::RouteSyncReport sync(const std::vector<Route>& desired) override {
        synced.push_back(desired);
        if (fail) {
            throw std::runtime_error("netlink dump failed");
        }
        return {};
    }
    std::vector<std::vector<Route>> synced;
    bool fail = false;
};

class FakeForwarding : public netlink::Forwarding {
  public:
    netlink::ForwardingEnsured ensure() override {
        ++ensured;
        if (fail) {
            throw std::runtime_error("nft: Operation not permitted");
        }
        return {.ip_forward_restored = restore_ip_forward};
    }
    void remove() override {}
    int ensured = 0;
    bool fail = false;
    bool restore_ip_forward = false;
};

class FakeAddressSet : public netlink::AddressSet {
  public:
    std::vector<InterfaceAddress> list() override { return addresses; }
    void replace(const std::optional<InterfaceAddress>& previous,
                 const InterfaceAddress& replacement) override {
        if (fail_replace) {
            throw std::runtime_error("Operation not permitted");
        }
        replaces.emplace_back(previous, replacement);
        addresses.push_back(replacement);
        if (previous) {
            std::erase(addresses, *previous);
        }
    }
    std::vector<InterfaceAddress> addresses;
    std::vector<std::pair<std::optional<InterfaceAddress>, InterfaceAddress>> replaces;
    bool fail_replace = false;
};

struct Harness {
    explicit Harness(bool force_relay = false, bool introducer = false, bool no_ipv6 = false,
                     std::optional<wg::Key> local_private = std::nullopt)
        : keys(derive_keys(kSecret)),
          addressing(kSecret, keys),
          local_private_key(local_private.value_or(wg::Key::generate_private())),
          local_key(local_private_key.public_key()),
          dir(std::filesystem::temp_directory_path() /
              ("wgmesh-reconciler-" + std::to_string(::getpid()) + "-" +
               std::to_string(counter++))),
          resolver(local_key, addressing, addresses, dir / "wgtest.nonce", [](std::string_view) {}),
          relay_policy(LocalRelayView{local_key, introducer, force_relay, {}, {}}),
          reconciler(store, device, routes, forwarding, resolver, relay_policy, local_node(),
                     {no_ipv6}, [this](std::string_view line) { logged.emplace_back(line); }) {
        addresses.addresses.push_back(resolver.local_address());
    }
    ~Harness() { std::filesystem::remove_all(dir); }

    LocalNode local_node() const {
        LocalNode local;
        local.private_key = local_private_key;
        local.public_key = local_key;
        local.mesh_ipv6 = addressing.mesh_ipv6(local_key);
        local.listen_port = 51820;
        local.preshared_key = keys.preshared_key();
        local.advertised_routes = {Prefix::parse_or_throw("192.168.50.0/24")};
        local.mesh_networks = {addressing.network_v4(), addressing.network_v6()};
        return local;
    }

    // A peer with derived mesh addresses, as the peers file would add it.
    Peer peer(const wg::Key& key, std::optional<std::string> endpoint,
              std::vector<std::string> networks = {}, bool introducer = false) const {
        Peer p;
        p.wg_pubkey = key;
        p.mesh_ip = addressing.mesh_ip(key);
        p.mesh_ipv6 = addressing.mesh_ipv6(key);
        if (endpoint) {
            p.endpoint = SocketAddress::parse(*endpoint);
        }
        for (const auto& n : networks) {
            p.routable_networks.push_back(Prefix::parse_or_throw(n));
        }
        p.introducer = introducer;
        return p;
    }

    const wg::PeerConfig* entry(const wg::Key& key) const {
        for (const auto& p : device.applied.back().peers) {
            if (p.public_key == key) {
                return &p;
            }
        }
        return nullptr;
    }

    static inline int counter = 0;
    DerivedKeys keys;
    MeshAddressing addressing;
    wg::Key local_private_key;
    wg::Key local_key;
    std::filesystem::path dir;
    PeerStore store;
    FakeDevice device;
    FakeRouteTable routes;
    FakeForwarding forwarding;
    FakeAddressSet addresses;
    CollisionResolver resolver;
    RelayPolicy relay_policy;
    std::vector<std::string> logged;
    Reconciler reconciler;
};

wg::Key new_public_key() {
    return wg::Key::generate_private().public_key();
}

TEST(Reconciler, ConfiguresPeersWithEndpointAndRoutesTheirNetworks) {
    Harness h;
    const auto b = new_public_key();
    const auto c = new_public_key();  // no endpoint: not configured, not routed
    ASSERT_TRUE(
        h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24"}), "static").accepted());
    ASSERT_TRUE(h.store.update(h.peer(c, std::nullopt, {"172.17.0.0/24"}), "static").accepted());

    const auto report = h.reconciler.run_cycle();

    EXPECT_TRUE(report.ok()) << report.errors.front();
    EXPECT_EQ(report.usable_peers, 2u);
    ASSERT_EQ(h.device.applied.size(), 1u);
    const auto& config = h.device.applied.back();
    EXPECT_EQ(config.private_key, h.local_private_key);
    EXPECT_EQ(config.listen_port, 51820);
    ASSERT_EQ(config.peers.size(), 1u);
    const auto& entry = config.peers.front();
    EXPECT_EQ(entry.public_key, b);
    EXPECT_EQ(entry.endpoint, SocketAddress::parse("192.0.2.2:51820"));
    EXPECT_EQ(entry.persistent_keepalive, 25);
    EXPECT_EQ(entry.preshared_key, h.keys.preshared_key());
    auto expected = std::vector<Prefix>{Prefix(h.addressing.mesh_ip(b), 32),
                                        Prefix(h.addressing.mesh_ipv6(b), 128),
                                        Prefix::parse_or_throw("172.16.0.0/24")};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(entry.allowed_ips, expected);

    ASSERT_EQ(h.routes.synced.size(), 1u);
    EXPECT_EQ(
        h.routes.synced.back(),
        (std::vector<Route>{{Prefix::parse_or_throw("172.16.0.0/24"), h.addressing.mesh_ip(b)}}));
    EXPECT_EQ(h.forwarding.ensured, 1);
}

TEST(Reconciler, OwnAdvertisedAndMeshNetworksAreNeverRoutedThroughPeers) {
    Harness h;
    const auto b = new_public_key();
    h.store.update(
        h.peer(b, "192.0.2.2:51820",
               {"192.168.50.0/24", h.addressing.network_v4().to_string(), "172.16.0.0/24"}),
        "static");
    h.reconciler.run_cycle();
    ASSERT_EQ(h.routes.synced.back().size(), 1u);
    EXPECT_EQ(h.routes.synced.back().front().destination, Prefix::parse_or_throw("172.16.0.0/24"));
}

TEST(Reconciler, RelayRoutedPeerAllowedIpsGoOnTheRelayEntry) {
    Harness h(/*force_relay=*/true);
    const auto relay = new_public_key();
    const auto far = new_public_key();
    h.store.update(h.peer(relay, "192.0.2.10:51820", {}, /*introducer=*/true), "static");
    h.store.update(h.peer(far, "198.51.100.7:51820", {"172.20.0.0/24"}), "static");

    const auto report = h.reconciler.run_cycle();

    ASSERT_EQ(report.relays.size(), 1u);
    EXPECT_EQ(report.relays.at(far), relay);
    const auto* relay_entry = h.entry(relay);
    ASSERT_NE(relay_entry, nullptr);
    const auto far_ip = h.addressing.mesh_ip(far);
    const auto relay_ip = h.addressing.mesh_ip(relay);
    std::vector<Prefix> expected = {
        Prefix(relay_ip, 32), Prefix(h.addressing.mesh_ipv6(relay), 128), Prefix(far_ip, 32),
        Prefix(h.addressing.mesh_ipv6(far), 128), Prefix::parse_or_throw("172.20.0.0/24")};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(relay_entry->allowed_ips, expected);
    // The relayed peer keeps an entry (so the direct path is still probed) without addresses.
    const auto* far_entry = h.entry(far);
    ASSERT_NE(far_entry, nullptr);
    EXPECT_TRUE(far_entry->allowed_ips.empty());
    EXPECT_EQ(h.routes.synced.back(),
              (std::vector<Route>{{Prefix::parse_or_throw("172.20.0.0/24"), relay_ip}}));
}

TEST(Reconciler, OfflinePeerKeepsItsEntryAndMeshAddressesButNotItsNetworks) {
    Harness h;
    const auto b = new_public_key();
    const auto c = new_public_key();
    h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24"}), "static");
    h.store.update(h.peer(c, "192.0.2.3:51820", {"172.16.1.0/24"}), "static");
    h.reconciler.set_offline({b});

    h.reconciler.run_cycle();

    // Its mesh addresses stay reachable, so a handshake or a probe can bring it back.
    const auto* offline_entry = h.entry(b);
    ASSERT_NE(offline_entry, nullptr);
    auto mesh_only = std::vector<Prefix>{Prefix(h.addressing.mesh_ip(b), 32),
                                         Prefix(h.addressing.mesh_ipv6(b), 128)};
    std::sort(mesh_only.begin(), mesh_only.end());
    EXPECT_EQ(offline_entry->allowed_ips, mesh_only);
    EXPECT_EQ(
        h.routes.synced.back(),
        (std::vector<Route>{{Prefix::parse_or_throw("172.16.1.0/24"), h.addressing.mesh_ip(c)}}));

    // Back online: its network returns in the next cycle.
    h.reconciler.set_offline({});
    h.reconciler.run_cycle();
    EXPECT_EQ(h.routes.synced.back().size(), 2u);
    EXPECT_NE(std::find(h.entry(b)->allowed_ips.begin(), h.entry(b)->allowed_ips.end(),
                        Prefix::parse_or_throw("172.16.0.0/24")),
              h.entry(b)->allowed_ips.end());
}

// Two keys ordered by their base64 text, which decides which advertiser wins a network.
std::pair<wg::Key, wg::Key> ordered_keys() {
    auto first = new_public_key();
    auto second = new_public_key();
    if (second.to_base64() < first.to_base64()) {
        std::swap(first, second);
    }
    return {first, second};
}

bool allows(const wg::PeerConfig* entry, const Prefix& prefix) {
    return entry != nullptr && std::find(entry->allowed_ips.begin(), entry->allowed_ips.end(),
                                         prefix) != entry->allowed_ips.end();
}

TEST(Reconciler, OfflineWinnerFailsOverToTheNextAdvertiserInOneCycleAndBack) {
    Harness h;
    const auto [winner, next] = ordered_keys();
    const auto lan = Prefix::parse_or_throw("10.99.0.0/24");
    h.store.update(h.peer(winner, "192.0.2.2:51820", {lan.to_string()}), "static");
    h.store.update(h.peer(next, "192.0.2.3:51820", {lan.to_string()}), "static");
    const std::vector<Route> via_winner = {{lan, h.addressing.mesh_ip(winner)}};
    const std::vector<Route> via_next = {{lan, h.addressing.mesh_ip(next)}};

    h.reconciler.run_cycle();
    ASSERT_EQ(h.routes.synced.back(), via_winner);
    EXPECT_TRUE(allows(h.entry(winner), lan));
    EXPECT_FALSE(allows(h.entry(next), lan));
    const auto before = h.device.applied.back();

    h.reconciler.set_offline({winner});
    h.reconciler.run_cycle();
    // The same cycle moves the route and the AllowedIPs, so the kernel and WireGuard agree.
    EXPECT_EQ(h.routes.synced.back(), via_next);
    EXPECT_FALSE(allows(h.entry(winner), lan));
    EXPECT_TRUE(allows(h.entry(next), lan));
    // One batched change, not a flush: the route is replaced in place (never absent) and the
    // device update touches the two entries' AllowedIPs only, removing no peer.
    const auto route_change = netlink::diff_routes(via_next, via_winner);
    EXPECT_EQ(route_change.change, via_next);
    EXPECT_TRUE(route_change.add.empty());
    const auto device_change = wg::compute_device_update(before, h.device.applied.back());
    ASSERT_EQ(device_change.peers.size(), 2u);
    for (const auto& update : device_change.peers) {
        EXPECT_FALSE(update.remove);
        EXPECT_TRUE(update.replace_allowed_ips);
        EXPECT_FALSE(update.endpoint);
    }

    h.reconciler.set_offline({});
    h.reconciler.run_cycle();
    EXPECT_EQ(h.routes.synced.back(), via_winner);
    EXPECT_TRUE(allows(h.entry(winner), lan));
    EXPECT_FALSE(allows(h.entry(next), lan));
}

TEST(Reconciler, OfflineRelayIsReplacedAndTheOfflinePeerStaysOnItsRelay) {
    Harness h(/*force_relay=*/true);
    const auto [relay, other_relay] = ordered_keys();
    const auto far = new_public_key();
    h.store.update(h.peer(relay, "192.0.2.10:51820", {}, /*introducer=*/true), "static");
    h.store.update(h.peer(other_relay, "192.0.2.11:51820", {}, /*introducer=*/true), "static");
    h.store.update(h.peer(far, "198.51.100.7:51820", {"172.20.0.0/24"}), "static");

    const auto first = h.reconciler.run_cycle();
    ASSERT_EQ(first.relays.count(far), 1u);
    const auto chosen = first.relays.at(far);
    const auto spare = chosen == relay ? other_relay : relay;

    // The chosen relay goes offline: the far peer moves to the other one at once.
    h.reconciler.set_offline({chosen});
    const auto second = h.reconciler.run_cycle();
    EXPECT_EQ(second.relays.at(far), spare);
    EXPECT_EQ(h.routes.synced.back(), (std::vector<Route>{{Prefix::parse_or_throw("172.20.0.0/24"),
                                                           h.addressing.mesh_ip(spare)}}));

    // The far peer itself offline: its network goes, its mesh address stays on its relay.
    h.reconciler.set_offline({far});
    const auto third = h.reconciler.run_cycle();
    ASSERT_EQ(third.relays.count(far), 1u);
    EXPECT_TRUE(h.routes.synced.back().empty());
    EXPECT_TRUE(allows(h.entry(third.relays.at(far)), Prefix(h.addressing.mesh_ip(far), 32)));
}

TEST(Reconciler, CachedUnconfirmedPeersAreConfigured) {
    Harness h;
    const auto b = new_public_key();
    auto cached = h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24"});
    cached.last_seen = Clock::now() - 2h;  // inactive, but within the cache's 24 h
    ASSERT_TRUE(h.store.update(cached, "cache").accepted());
    ASSERT_FALSE(h.store.entry(b)->confirmed);

    const auto report = h.reconciler.run_cycle();

    EXPECT_EQ(report.cached_peers, 1u);
    ASSERT_NE(h.entry(b), nullptr);
    EXPECT_EQ(h.routes.synced.back().size(), 1u);
}

TEST(Reconciler, Ipv6EndpointsAreSkippedWithNoIpv6) {
    Harness h(false, false, /*no_ipv6=*/true);
    const auto b = new_public_key();
    const auto c = new_public_key();
    h.store.update(h.peer(b, "[2001:db8::2]:51820"), "static");
    h.store.update(h.peer(c, "192.0.2.3:51820"), "static");
    h.reconciler.run_cycle();
    ASSERT_EQ(h.device.applied.back().peers.size(), 1u);
    EXPECT_EQ(h.device.applied.back().peers.front().public_key, c);
}

TEST(Reconciler, LocalCollisionLoserReplacesItsAddressOnce) {
    // The local node must hold the higher base64 key to lose.
    wg::Key local_private;
    wg::Key other;
    do {
        local_private = wg::Key::generate_private();
        other = new_public_key();
    } while (!(other.to_base64() < local_private.public_key().to_base64()));
    Harness h(false, false, false, local_private);
    const auto old_address = h.resolver.local_address();
    auto claimant = h.peer(other, "192.0.2.2:51820");
    claimant.mesh_ip = old_address.address;
    h.store.update(claimant, "static");

    const auto first = h.reconciler.run_cycle();
    h.reconciler.run_cycle();

    ASSERT_EQ(first.collisions.size(), 1u);
    ASSERT_TRUE(first.local_address_changed);
    ASSERT_EQ(h.addresses.replaces.size(), 1u);
    EXPECT_EQ(h.addresses.replaces.front().first, old_address);
    EXPECT_EQ(h.addresses.replaces.front().second,
              h.addressing.interface_address(h.addressing.mesh_ip(h.local_key, 1)));
    EXPECT_EQ(h.resolver.local_nonce(), 1u);
}

TEST(Reconciler, RemoteCollisionLoserIsConfiguredWithItsExpectedAddress) {
    Harness h;
    wg::Key low;
    wg::Key high;
    do {
        low = new_public_key();
        high = new_public_key();
    } while (!(low.to_base64() < high.to_base64()));
    auto a = h.peer(low, "192.0.2.2:51820");
    auto b = h.peer(high, "192.0.2.3:51820", {"172.16.9.0/24"});
    b.mesh_ip = a.mesh_ip;  // high claims low's address and loses
    h.store.update(a, "static");
    h.store.update(b, "static");

    h.reconciler.run_cycle();  // detects; the next cycle uses the expected address
    h.reconciler.run_cycle();

    const auto expected = h.resolver.expected_mesh_ip(high);
    ASSERT_TRUE(expected);
    const auto* entry = h.entry(high);
    ASSERT_NE(entry, nullptr);
    EXPECT_NE(
        std::find(entry->allowed_ips.begin(), entry->allowed_ips.end(), Prefix(*expected, 32)),
        entry->allowed_ips.end());
    EXPECT_EQ(h.routes.synced.back(),
              (std::vector<Route>{{Prefix::parse_or_throw("172.16.9.0/24"), *expected}}));
}

TEST(Reconciler, AFailingStepDoesNotStopTheOthers) {
    Harness h;
    const auto b = new_public_key();
    h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24"}), "static");
    h.device.fail_get = true;
    h.device.fail_apply = true;
    h.routes.fail = true;
    h.forwarding.fail = true;

    const auto report = h.reconciler.run_cycle();

    EXPECT_EQ(report.errors.size(), 4u);
    EXPECT_EQ(h.device.applied.size(), 1u);
    EXPECT_EQ(h.routes.synced.size(), 1u);
    EXPECT_EQ(h.forwarding.ensured, 1);
    EXPECT_FALSE(report.ok());
}

TEST(Reconciler, RepeatedErrorsAreLoggedOncePerAppearance) {
    Harness h;
    const auto cycle = [&] {
        h.reconciler.mark_unverified(OwnedState::all());
        h.reconciler.run_cycle();
    };
    h.forwarding.fail = true;
    cycle();
    cycle();
    EXPECT_EQ(h.logged.size(), 1u);
    h.forwarding.fail = false;
    cycle();
    h.forwarding.fail = true;
    cycle();
    EXPECT_EQ(h.logged.size(), 2u);
}

// A cycle with an unchanged desired state and nothing marked reads no routes, lists no nft
// rules and no addresses: WireGuard is still read and applied (it has no notifications).
TEST(Reconciler, VerifiedStateIsNotReadAgainUntilMarkedOrChanged) {
    Harness h;
    h.reconciler.keep_mesh_addresses(h.addresses, std::nullopt);
    const auto b = new_public_key();
    h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24"}), "static");
    const auto first = h.reconciler.run_cycle();
    EXPECT_EQ(first.verified, OwnedState::all()) << "everything starts unverified";
    const auto quiet = h.reconciler.run_cycle();
    EXPECT_FALSE(quiet.verified.any());
    EXPECT_EQ(h.routes.synced.size(), 1u);
    EXPECT_EQ(h.forwarding.ensured, 1);
    EXPECT_EQ(h.device.applied.size(), 2u);

    h.reconciler.mark_unverified({.routes = true});
    const auto marked = h.reconciler.run_cycle();
    EXPECT_EQ(marked.verified, OwnedState{.routes = true});
    EXPECT_EQ(h.routes.synced.size(), 2u);
    EXPECT_EQ(h.forwarding.ensured, 1);

    h.reconciler.mark_unverified({.forwarding = true});
    h.reconciler.run_cycle();
    EXPECT_EQ(h.forwarding.ensured, 2);
    EXPECT_EQ(h.routes.synced.size(), 2u);

    // A new network changes the desired routes: synced without being marked.
    h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24", "172.16.9.0/24"}), "static");
    const auto changed = h.reconciler.run_cycle();
    EXPECT_TRUE(changed.verified.routes);
    ASSERT_EQ(h.routes.synced.size(), 3u);
    EXPECT_EQ(h.routes.synced.back().size(), 2u);
}

// A repair puts back the marked kinds against the last cycle's desired state: WireGuard is
// neither read nor applied, a store change waits for the next cycle, and the report keeps
// the last cycle's view (peers, its WireGuard error) so status does not turn healthy.
TEST(Reconciler, ARepairRestoresTheLastCyclesDecisionsWithoutReadingWireGuard) {
    Harness h;
    h.reconciler.keep_mesh_addresses(h.addresses, std::nullopt);
    const auto b = new_public_key();
    h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24"}), "static");
    h.device.fail_apply = true;
    const auto cycle = h.reconciler.run_cycle();
    ASSERT_EQ(cycle.errors.size(), 1u) << "the WireGuard apply fails";
    ASSERT_EQ(h.routes.synced.size(), 1u);
    const auto gets = h.device.gets;
    const auto applies = h.device.applied.size();

    // Changed since: the repair must not route it yet.
    h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24", "172.16.9.0/24"}), "static");
    h.addresses.addresses.clear();
    h.reconciler.mark_unverified({.routes = true, .addresses = true});
    const auto repair = h.reconciler.run_repair();
    EXPECT_EQ(h.device.gets, gets);
    EXPECT_EQ(h.device.applied.size(), applies);
    EXPECT_EQ(repair.verified, (OwnedState{.routes = true, .addresses = true}));
    EXPECT_EQ(repair.addresses_restored, 1u);
    ASSERT_EQ(h.routes.synced.size(), 2u);
    EXPECT_EQ(h.routes.synced.back(), h.routes.synced.front());
    EXPECT_EQ(repair.usable_peers, 1u);
    EXPECT_EQ(repair.desired_routes, 1u);
    ASSERT_EQ(repair.errors, cycle.errors) << "the WireGuard error stands until a cycle clears it";
    EXPECT_EQ(h.reconciler.last_report()->errors, cycle.errors);
    EXPECT_EQ(h.reconciler.cycles(), 1u) << "a repair is not a cycle";

    // Nothing marked: a repair reads nothing.
    const auto idle = h.reconciler.run_repair();
    EXPECT_FALSE(idle.verified.any());
    EXPECT_EQ(h.routes.synced.size(), 2u);

    // The next cycle takes the store's change and clears the error.
    h.device.fail_apply = false;
    const auto next = h.reconciler.run_cycle();
    EXPECT_TRUE(next.ok());
    EXPECT_EQ(next.desired_routes, 2u);
    EXPECT_EQ(h.routes.synced.back().size(), 2u);
}

TEST(Reconciler, ARepairBeforeAnyCycleIsACycle) {
    Harness h;
    h.store.update(h.peer(new_public_key(), "192.0.2.2:51820", {"172.16.0.0/24"}), "static");
    const auto first = h.reconciler.run_repair();
    EXPECT_EQ(h.device.gets, 1);
    EXPECT_EQ(first.desired_routes, 1u);
    EXPECT_EQ(h.reconciler.cycles(), 1u);
}

TEST(Reconciler, FailedRouteSyncIsRetriedWithoutBeingMarked) {
    Harness h;
    h.store.update(h.peer(new_public_key(), "192.0.2.2:51820", {"172.16.0.0/24"}), "static");
    h.routes.fail = true;
    h.reconciler.run_cycle();
    h.routes.fail = false;
    const auto retry = h.reconciler.run_cycle();
    EXPECT_TRUE(retry.verified.routes);
    EXPECT_TRUE(retry.ok());
    EXPECT_EQ(h.routes.synced.size(), 2u);
    EXPECT_FALSE(h.reconciler.run_cycle().verified.routes);
}

// The mesh addresses are owned state: removed by someone, they are put back when marked.
TEST(Reconciler, KeptMeshAddressesAreRestoredWhenMissing) {
    Harness h;
    const InterfaceAddress v6{h.addressing.mesh_ipv6(h.local_key), 64};
    h.reconciler.keep_mesh_addresses(h.addresses, v6);
    const auto first = h.reconciler.run_cycle();
    EXPECT_EQ(first.addresses_restored, 1u) << "the IPv6 address was not there";
    EXPECT_EQ(h.addresses.list().size(), 2u);

    h.addresses.addresses.clear();  // `ip addr flush dev IF`
    EXPECT_EQ(h.reconciler.run_cycle().addresses_restored, 0u) << "not marked: not looked at";
    h.reconciler.mark_unverified({.addresses = true});
    const auto repaired = h.reconciler.run_cycle();
    EXPECT_TRUE(repaired.verified.addresses);
    EXPECT_EQ(repaired.addresses_restored, 2u);
    const auto now = h.addresses.list();
    EXPECT_NE(std::find(now.begin(), now.end(), h.resolver.local_address()), now.end());
    EXPECT_NE(std::find(now.begin(), now.end(), v6), now.end());
}

TEST(Reconciler, AnAddressThatCannotBePutBackIsAnErrorUntilItIs) {
    Harness h;
    h.reconciler.keep_mesh_addresses(h.addresses, std::nullopt);
    h.addresses.addresses.clear();
    h.addresses.fail_replace = true;
    const auto failed = h.reconciler.run_cycle();
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.errors.front().find("restoring mesh address " +
                                         h.resolver.local_address().to_string()),
              std::string::npos)
        << failed.errors.front();
    // Still unverified: retried by the next cycle without being marked.
    h.addresses.fail_replace = false;
    const auto retried = h.reconciler.run_cycle();
    EXPECT_TRUE(retried.ok());
    EXPECT_EQ(retried.addresses_restored, 1u);
}

TEST(Reconciler, UnchangedStateAppliesTheIdenticalConfigAndRoutes) {
    Harness h;
    const auto b = new_public_key();
    h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24", "172.16.1.0/24"}), "static");
    h.reconciler.run_cycle();
    h.reconciler.mark_unverified(OwnedState::all());
    h.reconciler.run_cycle();
    ASSERT_EQ(h.device.applied.size(), 2u);
    EXPECT_EQ(h.device.applied[0].peers.size(), h.device.applied[1].peers.size());
    EXPECT_EQ(h.device.applied[0].peers.front().allowed_ips,
              h.device.applied[1].peers.front().allowed_ips);
    EXPECT_EQ(h.device.applied[0].peers.front().endpoint,
              h.device.applied[1].peers.front().endpoint);
    ASSERT_EQ(h.routes.synced.size(), 2u);
    EXPECT_EQ(h.routes.synced[0], h.routes.synced[1]);
    EXPECT_EQ(h.reconciler.cycles(), 2u);
    ASSERT_TRUE(h.reconciler.last_report());
}

TEST(Reconciler, WireGuardPeersChangedBySomeoneElseAreCountedAsTheyArePutBack) {
    Harness h;
    const auto b = new_public_key();
    const auto c = new_public_key();
    h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24"}), "static");
    h.store.update(h.peer(c, "192.0.2.3:51820"), "static");
    EXPECT_EQ(h.reconciler.run_cycle().wireguard_peers_restored, 0u) << "the first apply is ours";
    EXPECT_EQ(h.reconciler.run_cycle().wireguard_peers_restored, 0u);

    // `wg set wgtest peer B remove`, and C's allowed IPs emptied by hand.
    std::erase_if(h.device.current.peers,
                  [&](const wg::PeerConfig& peer) { return peer.public_key == b; });
    ASSERT_EQ(h.device.current.peers.size(), 1u);
    h.device.current.peers.front().allowed_ips.clear();
    const auto repaired = h.reconciler.run_cycle();
    EXPECT_EQ(repaired.wireguard_peers_restored, 2u);
    EXPECT_EQ(h.device.current.peers.size(), 2u);
    EXPECT_NE(h.entry(b), nullptr);

    // An endpoint the device learned by roaming is WireGuard's doing, not someone's change.
    h.device.current.peers.front().endpoint = SocketAddress::parse("198.51.100.7:4000");
    EXPECT_EQ(h.reconciler.run_cycle().wireguard_peers_restored, 0u);
    // A new desired configuration is ours, whatever the device held.
    h.device.current.peers.pop_back();
    h.store.update(h.peer(new_public_key(), "192.0.2.4:51820"), "static");
    EXPECT_EQ(h.reconciler.run_cycle().wireguard_peers_restored, 0u);
    EXPECT_EQ(h.device.current.peers.size(), 3u);
}

TEST(Reconciler, PeersLeavingTheStoreAreRemovedFromTheDesiredConfig) {
    Harness h;
    const auto b = new_public_key();
    h.store.update(h.peer(b, "192.0.2.2:51820", {"172.16.0.0/24"}), "static");
    h.reconciler.run_cycle();
    h.store.remove(b);
    h.reconciler.run_cycle();
    EXPECT_TRUE(h.device.applied.back().peers.empty());
    EXPECT_TRUE(h.routes.synced.back().empty());
}

TEST(Reconciler, TwoPeersAdvertisingOneNetworkAllowItOnlyOnTheRouteOwner) {
    Harness h;
    wg::Key low;
    wg::Key high;
    do {
        low = new_public_key();
        high = new_public_key();
    } while (!(low.to_base64() < high.to_base64()));
    h.store.update(h.peer(low, "192.0.2.2:51820", {"172.16.0.0/24"}), "static");
    h.store.update(h.peer(high, "192.0.2.3:51820", {"172.16.0.0/24"}), "static");
    h.reconciler.run_cycle();
    const auto network = Prefix::parse_or_throw("172.16.0.0/24");
    const auto has = [&](const wg::Key& k) {
        const auto& ips = h.entry(k)->allowed_ips;
        return std::find(ips.begin(), ips.end(), network) != ips.end();
    };
    EXPECT_TRUE(has(low));
    EXPECT_FALSE(has(high));
}

}  // namespace
}  // namespace wgmesh::mesh
