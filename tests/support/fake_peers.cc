#include "tests/support/fake_peers.h"

#include "mesh/mesh_address.h"
#include "wg/key.h"

namespace wgmesh::test {

using nlohmann::json;

std::vector<FakePeer> make_peers(const Node& node, int count, int networks_each) {
    std::vector<FakePeer> peers;
    std::set<std::string> taken = {node.mesh_ip()};
    for (int i = 0; i < count; ++i) {
        auto key = wg::Key::generate_private().public_key();
        while (!taken.insert(test_addressing().mesh_ip(key).to_string()).second) {
            key = wg::Key::generate_private().public_key();
        }
        FakePeer peer;
        peer.pub = key.to_base64();
        peer.mesh_ip = test_addressing().mesh_ip(key).to_string();
        peer.mesh_ipv6 = test_addressing().mesh_ipv6(key).to_string();
        peer.endpoint = "192.168.70." + std::to_string(i + 2);
        for (int j = 0; j < networks_each; ++j) {
            peer.networks.push_back("172.20." + std::to_string(i) + "." + std::to_string(j * 32) +
                                    "/27");
        }
        peers.push_back(std::move(peer));
    }
    return peers;
}

json peers_json(const std::vector<FakePeer>& peers) {
    json file = json::array();
    for (const auto& peer : peers) {
        file.push_back({{"wg_pubkey", peer.pub},
                        {"endpoint", peer.endpoint + ":51820"},
                        {"routable_networks", peer.networks}});
    }
    return file;
}

// "network via gateway", one entry per network.
std::multiset<std::string> expected_routes(const std::vector<FakePeer>& peers) {
    std::multiset<std::string> routes;
    for (const auto& peer : peers) {
        for (const auto& network : peer.networks) {
            routes.insert(network + " via " + peer.mesh_ip);
        }
    }
    return routes;
}

// The node's proto-150 routes as "network via gateway", duplicates kept; a route through
// another interface shows its device so it cannot pass for ours.
std::multiset<std::string> kernel_routes(const Node& node) {
    std::multiset<std::string> routes;
    for (const auto& family : {"-4", "-6"}) {
        const auto out = node.ns().exec_checked(
            {"ip", "-j", family, "route", "show", "table", "all", "proto", "150"});
        for (const auto& route : json::parse(out)) {
            std::string line = route.value("dst", "?") + " via " + route.value("gateway", "?");
            if (route.value("dev", "") != node.interface()) {
                line += " dev " + route.value("dev", "?");
            }
            routes.insert(line);
        }
    }
    return routes;
}

// An iptables-nft style filter table as Docker leaves it: FORWARD drops by policy.
void add_docker_like_filter(const Node& node) {
    node.ns().exec_checked({"nft", "-f", "-"},
                           "table ip filter {\n"
                           "  chain FORWARD {\n"
                           "    type filter hook forward priority 0; policy drop;\n"
                           "  }\n"
                           "}\n");
}

// The underlay link the fake peers' endpoints live on.
void add_underlay(const Node& node) {
    const auto& ns = node.ns();
    ns.exec_checked({"ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0p"});
    ns.exec_checked({"ip", "addr", "add", "192.168.70.1/24", "dev", "ul0"});
    ns.exec_checked({"ip", "link", "set", "ul0", "up"});
    ns.exec_checked({"ip", "link", "set", "ul0p", "up"});
}

std::string dump(const std::multiset<std::string>& set) {
    std::string text;
    for (const auto& item : set) {
        text += "  " + item + "\n";
    }
    return text;
}

}  // namespace wgmesh::test
