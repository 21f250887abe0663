// When the daemon runs the forwarding-path check: a cycle that changed nothing must not list
// the nftables ruleset (issue 12's "a no-change cycle costs nothing"), while a change the
// kernel monitor reported, a full resync or a new IPv6 answer must run it after that cycle.
#include "tools/wgmesh/daemon/observability.h"

#include <gtest/gtest.h>

#include <memory>

namespace wgmesh::cli {
namespace {

using namespace std::chrono_literals;

const std::chrono::steady_clock::time_point kT0{};

TEST(ForwardingCheckSchedule, RunsFirstThenOnlyOnChangesOrTheBackstop) {
    ForwardingCheckSchedule schedule(60s);
    EXPECT_TRUE(schedule.due(false, false, kT0)) << "the first cycle";
    EXPECT_FALSE(schedule.due(false, false, kT0 + 5s)) << "nothing changed";
    EXPECT_FALSE(schedule.due(false, false, kT0 + 55s));
    EXPECT_TRUE(schedule.due(true, false, kT0 + 56s)) << "the repair says the path changed";
    EXPECT_FALSE(schedule.due(false, false, kT0 + 60s)) << "the backstop counts from the last";
    EXPECT_FALSE(schedule.due(false, false, kT0 + 115s));
    EXPECT_TRUE(schedule.due(false, false, kT0 + 116s)) << "the backstop";
    EXPECT_TRUE(schedule.due(false, true, kT0 + 117s)) << "a peer now advertises IPv6";
    EXPECT_FALSE(schedule.due(false, true, kT0 + 118s));
    EXPECT_TRUE(schedule.due(false, false, kT0 + 119s)) << "and no longer does";
}

struct CountingReader {
    std::shared_ptr<int> reads = std::make_shared<int>(0);
    std::shared_ptr<bool> last_ipv6 = std::make_shared<bool>(false);

    ForwardingReader reader() const {
        return [reads = reads, last_ipv6 = last_ipv6](bool ipv6) {
            ++*reads;
            *last_ipv6 = ipv6;
            netlink::ForwardingState state;
            state.interface_name = "wg0";
            state.ipv6 = ipv6;
            state.ipv4_forward = {"net.ipv4.ip_forward", "1", ""};
            return state;
        };
    }
};

TEST(Observability, ANoChangeCycleDoesNotReadTheForwardingPath) {
    CountingReader counting;
    Observability observability(counting.reader(), std::nullopt, {}, 60s);
    EXPECT_TRUE(observability.forwarding_json().is_null()) << "before the first check";

    mesh::CycleReport cycle;
    observability.after_cycle(cycle, false);
    EXPECT_EQ(*counting.reads, 1) << "the first cycle is checked";
    auto json = observability.forwarding_json();
    ASSERT_TRUE(json.is_object());
    EXPECT_EQ(json.value("check_runs", 0), 1);
    EXPECT_TRUE(json.contains("checks")) << json.dump(2);

    for (int i = 0; i < 10; ++i) {
        observability.after_cycle(cycle, false);
    }
    EXPECT_EQ(*counting.reads, 1) << "ten cycles that changed nothing";
    EXPECT_EQ(observability.forwarding_json().value("check_runs", 0), 1);

    observability.after_cycle(cycle, true);
    EXPECT_EQ(*counting.reads, 2) << "after a repair that may have changed the path";

    cycle.peers_advertise_ipv6_networks = true;
    observability.after_cycle(cycle, false);
    EXPECT_EQ(*counting.reads, 3);
    EXPECT_TRUE(*counting.last_ipv6) << "IPv6 forwarding is read once a peer advertises IPv6";
    EXPECT_EQ(observability.forwarding_json().value("check_runs", 0), 3);
}

}  // namespace
}  // namespace wgmesh::cli
