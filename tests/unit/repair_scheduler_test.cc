// When the daemon repairs what the kernel monitor saw changed, and what status reports of it.
#include "tools/wgmesh/daemon/repair_scheduler.h"

#include <gtest/gtest.h>

namespace wgmesh::cli {
namespace {

using namespace std::chrono_literals;

constexpr RepairScheduler::Settings kSettings{
    .debounce = 20ms, .max_delay = 5000ms, .fight_threshold = 5, .fight_window = 10000ms};

const SteadyTime kT0{};
const WallTime kWall{std::chrono::seconds(1'800'000'000)};

netlink::KernelEvents routes_removed() {
    netlink::KernelEvents events;
    events.routes = true;
    events.relevant = 1;
    return events;
}

mesh::CycleReport report_with_routes_added(std::size_t added) {
    mesh::CycleReport report;
    report.routes.added = added;
    report.verified.routes = true;
    return report;
}

TEST(RepairScheduler, NothingIsDueWithoutEvents) {
    RepairScheduler scheduler(kSettings);
    EXPECT_FALSE(scheduler.due());
    scheduler.note({}, kT0, kWall);
    EXPECT_FALSE(scheduler.due()) << "a batch of foreign, irrelevant events schedules nothing";
}

TEST(RepairScheduler, ABurstIsOneDebouncedRepairOfWhatItTouched) {
    RepairScheduler scheduler(kSettings);
    scheduler.note(routes_removed(), kT0, kWall);
    scheduler.note(routes_removed(), kT0 + 3ms, kWall);
    ASSERT_TRUE(scheduler.due());
    EXPECT_EQ(*scheduler.due(), kT0 + 23ms) << "the last event's debounce: after the burst";
    const auto repair = scheduler.begin(kT0 + 23ms);
    EXPECT_EQ(repair.state, mesh::OwnedState{.routes = true});
    EXPECT_FALSE(repair.full_resync_reason);
    EXPECT_FALSE(scheduler.due()) << "taken";
    scheduler.finish(repair, report_with_routes_added(3), kT0 + 32ms, kWall);
    const auto report = scheduler.report();
    const auto& routes = report.kinds[static_cast<std::size_t>(DriftKind::kRoute)];
    EXPECT_EQ(routes.events, 2u);
    EXPECT_EQ(routes.repairs, 1u);
    EXPECT_EQ(routes.last_time_to_repair, 32ms);
    EXPECT_EQ(routes.last_event, kWall);
}

// A flush still deleting when the first repair would run: the repair waits for the burst
// to end (or a repair would put back routes the flush then deletes), but never longer than
// the burst limit after its first event.
TEST(RepairScheduler, AStreamOfEventsIsRepairedAfterItEndsOrAtTheBurstLimit) {
    RepairScheduler scheduler(kSettings);
    for (auto at = kT0; at <= kT0 + 100ms; at += 10ms) {
        scheduler.note(routes_removed(), at, kWall);
    }
    EXPECT_EQ(*scheduler.due(), kT0 + 120ms);
    for (auto at = kT0 + 110ms; at <= kT0 + 400ms; at += 10ms) {
        scheduler.note(routes_removed(), at, kWall);
    }
    EXPECT_EQ(*scheduler.due(), kT0 + 250ms) << "the burst limit";
}

TEST(RepairScheduler, AddressesAlsoVerifyTheirPrefixRoutesAndNftOnlyForwarding) {
    RepairScheduler scheduler(kSettings);
    netlink::KernelEvents events;
    events.addresses = true;
    scheduler.note(events, kT0, kWall);
    EXPECT_EQ(scheduler.begin(kT0 + 20ms).state,
              (mesh::OwnedState{.routes = true, .addresses = true}));
    for (const auto field :
         {&netlink::KernelEvents::nft_table, &netlink::KernelEvents::forward_accept}) {
        events = {};
        events.*field = true;
        scheduler.note(events, kT0 + 1s, kWall);
        EXPECT_EQ(scheduler.begin(kT0 + 2s).state, mesh::OwnedState{.forwarding = true});
    }
}

TEST(RepairScheduler, LostEventsAndLinkChangesAreFullResyncs) {
    for (const bool overrun : {true, false}) {
        RepairScheduler scheduler(kSettings);
        netlink::KernelEvents events;
        (overrun ? events.overrun : events.link) = true;
        scheduler.note(events, kT0, kWall);
        ASSERT_TRUE(scheduler.due());
        const auto repair = scheduler.begin(*scheduler.due());
        EXPECT_EQ(repair.state, mesh::OwnedState::all());
        EXPECT_EQ(repair.full_resync_reason, overrun ? "events lost" : "link changed");
        mesh::CycleReport cycle = report_with_routes_added(10);
        cycle.started = WallTime{};
        cycle.finished = cycle.started + 14ms;
        scheduler.finish(repair, cycle, kT0 + 40ms, kWall);
        const auto report = scheduler.report();
        EXPECT_EQ(report.full_resyncs, 1u);
        ASSERT_TRUE(report.last_full_resync);
        EXPECT_EQ(report.last_full_resync->duration, 14ms);
        EXPECT_EQ(report.last_full_resync->changes, 10u);
    }
}

TEST(RepairScheduler, RequestedResyncIsDueAtOnce) {
    RepairScheduler scheduler(kSettings);
    scheduler.request_full_resync("timer", kT0 + 60s);
    EXPECT_EQ(scheduler.due(), kT0 + 60s);
    const auto repair = scheduler.begin(kT0 + 60s);
    EXPECT_EQ(repair.full_resync_reason, "timer");
    EXPECT_FALSE(repair.first_event) << "no drift: nothing to time";
}

// A repair that found nothing to put back (our own IPv6 address coming back from the kernel
// without our port id) is not counted as a repair.
TEST(RepairScheduler, ARepairThatFixedNothingIsNotCounted) {
    RepairScheduler scheduler(kSettings);
    netlink::KernelEvents events;
    events.addresses = true;
    scheduler.note(events, kT0, kWall);
    scheduler.finish(scheduler.begin(kT0 + 20ms), mesh::CycleReport{}, kT0 + 25ms, kWall);
    const auto address = scheduler.report().kinds[static_cast<std::size_t>(DriftKind::kAddress)];
    EXPECT_EQ(address.events, 1u);
    EXPECT_EQ(address.repairs, 0u);
    EXPECT_FALSE(address.last_time_to_repair);
}

// Someone keeps deleting our routes: the fight is reported once, re-adds back off (doubling,
// up to the cycle interval) instead of spinning, and the fight ends when the removals stop.
TEST(RepairScheduler, FightsBackOffAndAreReportedOnce) {
    RepairScheduler scheduler(kSettings);
    std::vector<std::chrono::milliseconds> delays;
    std::size_t fights_started = 0;
    auto now = kT0;
    for (int i = 0; i < 13; ++i) {
        scheduler.note(routes_removed(), now, kWall);
        ASSERT_TRUE(scheduler.due());
        delays.push_back(
            std::chrono::duration_cast<std::chrono::milliseconds>(*scheduler.due() - now));
        now = *scheduler.due();
        fights_started +=
            scheduler.finish(scheduler.begin(now), report_with_routes_added(1), now, kWall).size();
        now += 1ms;  // the fighter deletes again right away
    }
    EXPECT_EQ(fights_started, 1u);
    EXPECT_EQ(delays[0], 20ms);
    EXPECT_EQ(delays[4], 20ms);
    EXPECT_EQ(delays[5], 40ms) << "the fifth repair within the window started the fight";
    EXPECT_EQ(delays[6], 80ms);
    EXPECT_EQ(delays.back(), 5000ms) << "capped at the cycle interval";
    auto report = scheduler.report();
    ASSERT_EQ(report.fights.size(), 1u);
    EXPECT_EQ(report.fights[0].kind, DriftKind::kRoute);
    EXPECT_GE(report.fights[0].removals, 5u);

    // Quiet for longer than the window: the fight is over, repairs are prompt again.
    now += 11s;
    scheduler.note(routes_removed(), now, kWall);
    EXPECT_EQ(*scheduler.due() - now, 20ms);
    EXPECT_TRUE(scheduler.report().fights.empty());
}

// `ip route flush proto 150` of 10k routes: thousands of notifications over many drains,
// before and after the one repair that puts them back. That is one removal, not a fight.
TEST(RepairScheduler, OneFlushOverManyDrainsIsNotAFight) {
    RepairScheduler scheduler(kSettings);
    auto now = kT0;
    for (int drain = 0; drain < 30; ++drain) {
        scheduler.note(routes_removed(), now, kWall);
        now += 1ms;
    }
    now = *scheduler.due();
    EXPECT_TRUE(scheduler.finish(scheduler.begin(now), report_with_routes_added(10000), now, kWall)
                    .empty());
    // The rest of the flush's notifications, read after the repair: nothing left to put back.
    for (int drain = 0; drain < 30; ++drain) {
        scheduler.note(routes_removed(), now, kWall);
        EXPECT_EQ(*scheduler.due() - now, 20ms) << "no back-off: no fight";
        now = *scheduler.due();
        EXPECT_TRUE(scheduler.finish(scheduler.begin(now), report_with_routes_added(0), now, kWall)
                        .empty());
    }
    const auto report = scheduler.report();
    EXPECT_TRUE(report.fights.empty());
    EXPECT_EQ(report.kinds[static_cast<std::size_t>(DriftKind::kRoute)].repairs, 1u);
}

TEST(RepairScheduler, WireGuardPeersACycleFoundChangedAreCountedWithoutTimeToRepair) {
    RepairScheduler scheduler(kSettings);
    mesh::CycleReport report;
    report.wireguard_peers_restored = 2;
    scheduler.finish(scheduler.begin(kT0), report, kT0 + 5ms, kWall);
    auto peers = scheduler.report().kinds[static_cast<std::size_t>(DriftKind::kWireGuardPeer)];
    EXPECT_EQ(peers.events, 1u);
    EXPECT_EQ(peers.repairs, 1u);
    EXPECT_EQ(peers.last_event, kWall);
    EXPECT_FALSE(peers.last_time_to_repair) << "no event tells when it happened";
    EXPECT_STREQ(drift_kind_name(DriftKind::kWireGuardPeer), "wireguard_peer");

    scheduler.finish(scheduler.begin(kT0 + 1s), mesh::CycleReport{}, kT0 + 1s, kWall);
    peers = scheduler.report().kinds[static_cast<std::size_t>(DriftKind::kWireGuardPeer)];
    EXPECT_EQ(peers.repairs, 1u) << "a cycle that found nothing counts nothing";
}

TEST(RepairScheduler, ForwardingSysctlChangeReappliesForwardingAndCountsOnlyARealRestore) {
    RepairScheduler scheduler(kSettings);
    netlink::KernelEvents events;
    events.forwarding_sysctl = true;
    events.relevant = 1;
    scheduler.note(events, kT0, kWall);
    ASSERT_TRUE(scheduler.due());
    EXPECT_EQ(*scheduler.due(), kT0 + 20ms);
    auto repair = scheduler.begin(kT0 + 20ms);
    EXPECT_EQ(repair.state, mesh::OwnedState{.forwarding = true});
    EXPECT_TRUE(repair.forwarding_path_changed);
    // Someone switched ip_forward off: the forwarding apply found it off and turned it on.
    mesh::CycleReport restored;
    restored.verified.forwarding = true;
    restored.ip_forward_restored = true;
    scheduler.finish(repair, restored, kT0 + 31ms, kWall);
    auto ip_forward = scheduler.report().kinds[static_cast<std::size_t>(DriftKind::kIpForward)];
    EXPECT_EQ(ip_forward.events, 1u);
    EXPECT_EQ(ip_forward.repairs, 1u);
    EXPECT_EQ(ip_forward.last_time_to_repair, 31ms) << "timed from the notification";
    EXPECT_STREQ(drift_kind_name(DriftKind::kIpForward), "ip_forward");

    // Our own write comes back as a notification too (or rp_filter changed): the repair it
    // causes finds ip_forward on and counts nothing.
    scheduler.note(events, kT0 + 1s, kWall);
    repair = scheduler.begin(*scheduler.due());
    mesh::CycleReport nothing;
    nothing.verified.forwarding = true;
    scheduler.finish(repair, nothing, kT0 + 1s + 25ms, kWall);
    ip_forward = scheduler.report().kinds[static_cast<std::size_t>(DriftKind::kIpForward)];
    EXPECT_EQ(ip_forward.events, 1u);
    EXPECT_EQ(ip_forward.repairs, 1u);

    // Found off by a full resync with no notification before it: counted, not timed.
    scheduler.request_full_resync("timer", kT0 + 2s);
    repair = scheduler.begin(kT0 + 2s);
    scheduler.finish(repair, restored, kT0 + 2s + 40ms, kWall);
    ip_forward = scheduler.report().kinds[static_cast<std::size_t>(DriftKind::kIpForward)];
    EXPECT_EQ(ip_forward.repairs, 2u);
    EXPECT_EQ(ip_forward.last_time_to_repair, 31ms);
    EXPECT_EQ(scheduler.report().last_full_resync->changes, 1u);
}

TEST(RepairScheduler, ForeignNftRulesScheduleACycleForTheForwardingPathCheckOnly) {
    RepairScheduler scheduler(kSettings);
    netlink::KernelEvents events;
    events.foreign_nft_rules = true;
    scheduler.note(events, kT0, kWall);
    ASSERT_TRUE(scheduler.due());
    EXPECT_EQ(*scheduler.due(), kT0 + 20ms);
    const auto repair = scheduler.begin(kT0 + 20ms);
    EXPECT_FALSE(repair.state.any()) << "nothing owned to verify";
    EXPECT_TRUE(repair.forwarding_path_changed);
    EXPECT_FALSE(repair.first_event);
    scheduler.finish(repair, mesh::CycleReport{}, kT0 + 25ms, kWall);
    for (const auto& kind : scheduler.report().kinds) {
        EXPECT_EQ(kind.events, 0u);
        EXPECT_EQ(kind.repairs, 0u);
    }
}

TEST(RepairScheduler, OnlyPathRelevantRepairsAskForTheForwardingPathCheck) {
    RepairScheduler scheduler(kSettings);
    scheduler.note(routes_removed(), kT0, kWall);
    EXPECT_FALSE(scheduler.begin(kT0 + 20ms).forwarding_path_changed)
        << "a route changes no verdict";
    for (auto flag : {&netlink::KernelEvents::nft_table, &netlink::KernelEvents::forward_accept,
                      &netlink::KernelEvents::link, &netlink::KernelEvents::overrun}) {
        netlink::KernelEvents events;
        events.*flag = true;
        scheduler.note(events, kT0 + 1s, kWall);
        EXPECT_TRUE(scheduler.begin(kT0 + 2s).forwarding_path_changed);
    }
    scheduler.request_full_resync("timer", kT0 + 3s);
    EXPECT_TRUE(scheduler.begin(kT0 + 3s).forwarding_path_changed);
}

}  // namespace
}  // namespace wgmesh::cli
