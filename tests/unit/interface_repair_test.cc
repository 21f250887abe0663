// The daemon's decisions when its WireGuard interface breaks (what to repair, what to log
// once) and the device indirection the Reconciler keeps while the interface is recreated.
#include "tools/wgmesh/daemon/interface_repair.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "tools/wgmesh/daemon/swappable_device.h"
#include "wg/key.h"

namespace wgmesh::cli {
namespace {

TEST(InterfaceRepair, HealthyNeedsNothingWhoeverCreatedIt) {
    EXPECT_EQ(choose_interface_repair(InterfaceCondition::kHealthy, true), InterfaceRepair::kNone);
    EXPECT_EQ(choose_interface_repair(InterfaceCondition::kHealthy, false), InterfaceRepair::kNone);
}

TEST(InterfaceRepair, OwnSilentInterfaceIsRemovedAndCreatedAgain) {
    EXPECT_EQ(choose_interface_repair(InterfaceCondition::kDeviceSilent, true),
              InterfaceRepair::kRemoveThenCreate);
}

TEST(InterfaceRepair, AdoptedSilentInterfaceIsOnlyReported) {
    EXPECT_EQ(choose_interface_repair(InterfaceCondition::kDeviceSilent, false),
              InterfaceRepair::kReportOnly);
}

TEST(InterfaceRepair, VanishedLinkIsCreatedAgainLeftoversRemovedOnlyWhenOurs) {
    EXPECT_EQ(choose_interface_repair(InterfaceCondition::kLinkMissing, true),
              InterfaceRepair::kRemoveThenCreate);
    EXPECT_EQ(choose_interface_repair(InterfaceCondition::kLinkMissing, false),
              InterfaceRepair::kCreate);
}

TEST(InterfaceRepair, FaultLinesNameTheInterfaceAndCarryTheKernelText) {
    EXPECT_EQ(describe_interface_fault("wg0", {InterfaceCondition::kLinkMissing, {}}),
              "interface wg0 vanished");
    const auto line = describe_interface_fault(
        "wg0", {InterfaceCondition::kDeviceSilent, "connect: Connection refused"});
    EXPECT_NE(line.find("wg0"), std::string::npos) << line;
    EXPECT_NE(line.find("does not answer: connect: Connection refused"), std::string::npos) << line;
}

TEST(FaultEpisode, ReportsOncePerDistinctMessageUntilCleared) {
    FaultEpisode episode;
    EXPECT_FALSE(episode.active());
    EXPECT_FALSE(episode.clear());
    EXPECT_TRUE(episode.report("socket gone"));
    EXPECT_TRUE(episode.active());
    EXPECT_FALSE(episode.report("socket gone"));
    EXPECT_FALSE(episode.report("socket gone"));
    EXPECT_TRUE(episode.report("cannot recreate: busy"));
    EXPECT_FALSE(episode.report("cannot recreate: busy"));
    EXPECT_TRUE(episode.clear());
    EXPECT_FALSE(episode.active());
    // A new episode reports the same problem again.
    EXPECT_TRUE(episode.report("socket gone"));
}

class RecordingDevice : public wg::WireGuardDevice {
  public:
    RecordingDevice(std::string name, std::uint16_t port) : name_(std::move(name)) {
        config_.listen_port = port;
    }
    const std::string& interface_name() const override { return name_; }
    wg::DeviceConfig get() override { return config_; }
    void apply(const wg::DeviceConfig& desired) override {
        config_ = desired;
        ++applied;
    }
    int applied = 0;

  private:
    std::string name_;
    wg::DeviceConfig config_;
};

TEST(SwappableDevice, ForwardsToTheCurrentTarget) {
    SwappableDevice device("wg0");
    EXPECT_EQ(device.interface_name(), "wg0");
    EXPECT_FALSE(device.has_target());
    EXPECT_THROW(device.get(), std::runtime_error);
    EXPECT_THROW(device.apply({}), std::runtime_error);

    auto first = std::make_unique<RecordingDevice>("wg0", 1000);
    auto* first_raw = first.get();
    device.replace(std::move(first));
    EXPECT_EQ(device.get().listen_port, 1000);
    wg::DeviceConfig desired;
    desired.listen_port = 1001;
    device.apply(desired);
    EXPECT_EQ(first_raw->applied, 1);

    // The same object keeps working for a holder of a reference after the swap.
    wg::WireGuardDevice& held = device;
    device.replace(std::make_unique<RecordingDevice>("wg0", 2000));
    EXPECT_EQ(held.get().listen_port, 2000);
    EXPECT_EQ(held.interface_name(), "wg0");
}

TEST(SwappableDevice, RefusesADeviceOfAnotherInterface) {
    SwappableDevice device("wg0");
    EXPECT_THROW(device.replace(std::make_unique<RecordingDevice>("wg1", 1)),
                 std::invalid_argument);
    EXPECT_FALSE(device.has_target());
}

}  // namespace
}  // namespace wgmesh::cli
