// `wgmesh derive` run as a process against the independent vectors (the same table as
// derivation_test), plus its secret sources, warnings and errors.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "wg/encoding.h"

namespace wgmesh::mesh {
namespace {

struct KeyVector {
    const char* secret_hex;
    const char* network_id;
    const char* mesh_id;
    const char* gossip_key;
    const char* mesh_subnet;
    const char* mesh_network_v4;
    const char* mesh_prefix_v6;
    const char* mesh_network_v6;
    const char* multicast_id;
    const char* psk;
    unsigned gossip_port;
    const char* rendezvous_id;
    const char* membership_key;
    const char* epoch_seed;
};

struct AddressVector {
    std::size_t secret_index;
    const char* pubkey;
    const char* mesh_ip;
    const char* mesh_ip_nonce[3];
    const char* mesh_ipv6;
};

struct SubnetVector {
    std::size_t secret_index;
    const char* pubkey;
    const char* subnet;
    int nonce;
    const char* mesh_ip;
};

#include "tests/unit/derivation_vectors.inc"

using test::run_command;

std::string secret_of(std::size_t index) {
    const auto bytes = wg::hex_decode(kKeyVectors[index].secret_hex);
    return std::string(bytes->begin(), bytes->end());
}

class DeriveCli : public ::testing::Test {
  protected:
    void SetUp() override {
        ::unsetenv("WGMESH_SECRET");
        std::string pattern = "/tmp/wgmesh-derive-cli-XXXXXX";
        dir_ = ::mkdtemp(pattern.data());
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string secret_file(std::size_t index) {
        const auto path = dir_ / ("secret-" + std::to_string(index));
        std::ofstream(path, std::ios::binary) << secret_of(index) << "\n";
        return path.string();
    }

    static nlohmann::json derive_json(std::vector<std::string> args) {
        args.insert(args.begin(), {WGMESH_BINARY, "derive", "--json"});
        const auto result = run_command(args);
        EXPECT_EQ(result.exit_code, 0) << result.err;
        EXPECT_TRUE(result.err.empty()) << result.err;
        return nlohmann::json::parse(result.out);
    }

    std::filesystem::path dir_;
};

TEST_F(DeriveCli, JsonMatchesEveryKeyVectorInSpecOrder) {
    const std::vector<std::string> spec_order = {
        "network_id",     "mesh_id",        "gossip_key", "mesh_subnet",
        "mesh_prefix_v6", "multicast_id",   "psk",        "gossip_port",
        "rendezvous_id",  "membership_key", "epoch_seed"};
    for (std::size_t i = 0; i < std::size(kKeyVectors); ++i) {
        const auto& v = kKeyVectors[i];
        SCOPED_TRACE(v.secret_hex);
        const auto json = derive_json({"--secret-file", secret_file(i)});
        std::vector<std::string> order;
        for (const auto& [name, value] : json.items()) {
            order.push_back(name);
        }
        // nlohmann::json sorts keys, so read the order from the raw text instead.
        const auto raw =
            run_command({WGMESH_BINARY, "derive", "--json", "--secret-file", secret_file(i)}).out;
        std::size_t last = 0;
        for (const auto& name : spec_order) {
            const auto at = raw.find("\"" + name + "\"");
            ASSERT_NE(at, std::string::npos) << name;
            EXPECT_GT(at, last) << name;
            last = at;
        }
        EXPECT_EQ(order.size(), spec_order.size());
        EXPECT_EQ(json["network_id"], v.network_id);
        EXPECT_EQ(json["mesh_id"], v.mesh_id);
        EXPECT_EQ(json["gossip_key"], v.gossip_key);
        EXPECT_EQ(json["mesh_subnet"], v.mesh_network_v4);
        EXPECT_EQ(json["mesh_prefix_v6"], v.mesh_network_v6);
        EXPECT_EQ(json["multicast_id"], v.multicast_id);
        EXPECT_EQ(json["psk"], v.psk);
        EXPECT_EQ(json["gossip_port"], v.gossip_port);
        EXPECT_EQ(json["rendezvous_id"], v.rendezvous_id);
        EXPECT_EQ(json["membership_key"], v.membership_key);
        EXPECT_EQ(json["epoch_seed"], v.epoch_seed);
        EXPECT_FALSE(json.contains("mesh_ip"));
    }
}

TEST_F(DeriveCli, AddressesMatchTheVectorsWithAndWithoutNonce) {
    for (const auto& v : kAddressVectors) {
        SCOPED_TRACE(v.pubkey);
        const std::string file = secret_file(v.secret_index);
        auto json = derive_json({"--secret-file", file, "--pubkey", v.pubkey});
        EXPECT_EQ(json["mesh_ip"], v.mesh_ip);
        EXPECT_EQ(json["mesh_ipv6"], v.mesh_ipv6);
        // --nonce 0 is the plain derivation, N > 0 the nonce variant.
        EXPECT_EQ(
            derive_json({"--secret-file", file, "--pubkey", v.pubkey, "--nonce", "0"})["mesh_ip"],
            v.mesh_ip);
        for (int nonce = 1; nonce <= 2; ++nonce) {
            json = derive_json(
                {"--secret-file", file, "--pubkey", v.pubkey, "--nonce", std::to_string(nonce)});
            EXPECT_EQ(json["mesh_ip"], v.mesh_ip_nonce[nonce]);
            EXPECT_EQ(json["mesh_ipv6"], v.mesh_ipv6);
        }
    }
}

TEST_F(DeriveCli, CustomSubnetMatchesTheVectors) {
    for (const auto& v : kSubnetVectors) {
        if (v.secret_index % 4 != 0) {
            continue;  // a fifth of the table is plenty through a process
        }
        SCOPED_TRACE(std::string(v.subnet) + " nonce " + std::to_string(v.nonce));
        std::vector<std::string> args = {"--secret-file", secret_file(v.secret_index),
                                         "--pubkey",      v.pubkey,
                                         "--mesh-subnet", v.subnet};
        if (v.nonce >= 0) {
            args.insert(args.end(), {"--nonce", std::to_string(v.nonce)});
        }
        const auto json = derive_json(args);
        EXPECT_EQ(json["mesh_ip"], v.mesh_ip);
        EXPECT_EQ(json["mesh_subnet"], v.subnet);
    }
}

TEST_F(DeriveCli, SecretFromEnvironmentUriAndFlag) {
    const std::string secret = secret_of(5);
    ASSERT_EQ(::setenv("WGMESH_SECRET", ("wgmesh://v1/" + secret + "?via=env").c_str(), 1), 0);
    EXPECT_EQ(derive_json({})["psk"], kKeyVectors[5].psk);
    ::unsetenv("WGMESH_SECRET");

    const auto flagged = run_command({WGMESH_BINARY, "derive", "--json", "--secret", secret});
    EXPECT_EQ(flagged.exit_code, 0);
    EXPECT_EQ(nlohmann::json::parse(flagged.out)["psk"], kKeyVectors[5].psk);
    EXPECT_NE(flagged.err.find("process list"), std::string::npos) << flagged.err;
}

// A secret pasted from a web page: the Go daemon's mesh, and a warning that says why.
TEST_F(DeriveCli, SecretWithNoBreakSpacesGivesTheSameMeshAndAWarning) {
    const std::string secret = secret_of(3);
    ASSERT_EQ(::setenv("WGMESH_SECRET", ("\u00a0" + secret + "\u00a0\n").c_str(), 1), 0);
    const auto result = run_command({WGMESH_BINARY, "derive", "--json"});
    ::unsetenv("WGMESH_SECRET");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json["mesh_id"], kKeyVectors[3].mesh_id);
    EXPECT_EQ(json["psk"], kKeyVectors[3].psk);
    EXPECT_NE(result.err.find("Unicode spaces"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find(secret), std::string::npos) << "the warning shows the secret";
}

TEST_F(DeriveCli, HumanReadableOutputNamesEveryField) {
    const auto result = run_command({WGMESH_BINARY, "derive", "--secret-file", secret_file(0),
                                     "--pubkey", kAddressVectors[0].pubkey});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find(std::string("psk             ") + kKeyVectors[0].psk),
              std::string::npos);
    EXPECT_NE(result.out.find(std::string("mesh_ip         ") + kAddressVectors[0].mesh_ip + "\n"),
              std::string::npos);
    EXPECT_NE(result.out.find("gossip_port     " + std::to_string(kKeyVectors[0].gossip_port)),
              std::string::npos);
}

TEST_F(DeriveCli, HelpGoesToStdoutWithExitZero) {
    const auto result = run_command({WGMESH_BINARY, "derive", "--help"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_NE(result.out.find("--mesh-subnet"), std::string::npos);
}

TEST_F(DeriveCli, BadInputExitsOneWithAMessage) {
    const std::string file = secret_file(0);
    const std::string key = kAddressVectors[0].pubkey;
    const std::string short_file = (dir_ / "short").string();
    std::ofstream(short_file) << "  too-short  \n";
    const std::vector<std::vector<std::string>> cases = {
        {},                                                 // no secret at all
        {"--secret-file", short_file},                      // under 16 bytes
        {"--secret-file", (dir_ / "missing").string()},     // unreadable
        {"--secret-file", file, "--secret", secret_of(0)},  // two sources
        {"--secret-file", file, "--pubkey", "not-a-key"},   // bad key
        {"--secret-file", file, "--pubkey", key, "--mesh-subnet", "192.0.2.0/31"},
        {"--secret-file", file, "--pubkey", key, "--mesh-subnet", "fd00::/64"},
        {"--secret-file", file, "--pubkey", key, "--mesh-subnet", "192.0.2.1"},
        {"--secret-file", file, "--pubkey", key, "--nonce", "-1"},
        {"--secret-file", file, "--pubkey", key, "--nonce", "4294967296"},
        {"--secret-file", file, "--nonce", "1"},  // a nonce without a key means nothing
        {"--secret-file", file, "--bogus"},
        {"--secret-file", file, "extra"},
    };
    for (const auto& extra : cases) {
        std::vector<std::string> args = {WGMESH_BINARY, "derive"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto result = run_command(args);
        EXPECT_EQ(result.exit_code, 1) << testing::PrintToString(extra);
        EXPECT_TRUE(result.out.empty()) << result.out;
        EXPECT_FALSE(result.err.empty()) << testing::PrintToString(extra);
    }
}

}  // namespace
}  // namespace wgmesh::mesh
