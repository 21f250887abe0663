#include "mesh/dandelion.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <system_error>

#include "mesh/json_input.h"
#include "wg/crypto/hmac_sha256.h"
#include "wg/crypto/random.h"
#include "wg/encoding.h"

namespace wgmesh::mesh {

namespace {

// relay_rank with the seed's HMAC key blocks hashed once: select_relays ranks every peer
// with the same seed.
std::array<std::uint8_t, 32> relay_rank_with(const wg::crypto::HmacSha256& keyed_seed,
                                             std::uint64_t epoch_id, const wg::Key& key) {
    const std::string text = key.to_base64();
    std::vector<std::uint8_t> message(8 + text.size());
    for (int i = 0; i < 8; ++i) {
        message[i] = static_cast<std::uint8_t>(epoch_id >> (56 - 8 * i));
    }
    std::memcpy(message.data() + 8, text.data(), text.size());
    return keyed_seed.mac(message);
}

}  // namespace

std::array<std::uint8_t, 32> relay_rank(const EpochSeed& seed, std::uint64_t epoch_id,
                                        const wg::Key& key) {
    return relay_rank_with(wg::crypto::HmacSha256(seed), epoch_id, key);
}

std::vector<Peer> select_relays(const EpochSeed& seed, std::uint64_t epoch_id,
                                std::span<const Peer> peers, const wg::Key& self,
                                std::size_t count) {
    struct Ranked {
        std::array<std::uint8_t, 32> rank;
        const Peer* peer;
    };
    const wg::crypto::HmacSha256 keyed_seed(seed);
    std::vector<Ranked> ranked;
    ranked.reserve(peers.size());
    for (const Peer& peer : peers) {
        if (peer.wg_pubkey == self) {
            continue;
        }
        ranked.push_back({relay_rank_with(keyed_seed, epoch_id, peer.wg_pubkey), &peer});
    }
    // Equal ranks mean equal keys (HMAC-SHA256 collisions aside): keep one of each.
    std::sort(ranked.begin(), ranked.end(),
              [](const Ranked& a, const Ranked& b) { return a.rank < b.rank; });
    ranked.erase(std::unique(ranked.begin(), ranked.end(),
                             [](const Ranked& a, const Ranked& b) { return a.rank == b.rank; }),
                 ranked.end());
    std::vector<Peer> out;
    for (std::size_t i = 0; i < ranked.size() && i < count; ++i) {
        out.push_back(*ranked[i].peer);
    }
    return out;
}

bool csprng_fluff_coin() {
    // 65500 is the largest multiple of 100 below 2^16: values above it would bias the draw.
    for (int attempt = 0; attempt < 16; ++attempt) {
        std::array<std::uint8_t, 2> bytes;
        try {
            wg::crypto::random_bytes(bytes);
        } catch (const std::system_error&) {
            return true;
        }
        const unsigned value = (unsigned{bytes[0]} << 8) | bytes[1];
        if (value < 65500) {
            return value % 100 < kFluffPercent;
        }
    }
    return true;
}

Announce make_announce(const wg::Key& origin, const netlink::IpAddress& mesh_ip,
                       std::optional<netlink::SocketAddress> endpoint,
                       std::vector<netlink::Prefix> routable_networks) {
    Announce announce;
    announce.origin_pubkey = origin;
    announce.origin_mesh_ip = mesh_ip;
    announce.origin_endpoint = endpoint;
    announce.routable_networks = std::move(routable_networks);
    announce.timestamp =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    wg::crypto::random_bytes(announce.nonce);
    return announce;
}

std::string serialize_announce(const Announce& announce) {
    nlohmann::ordered_json doc;
    doc["origin_pubkey"] = announce.origin_pubkey.to_base64();
    doc["origin_mesh_ip"] = announce.origin_mesh_ip.to_string();
    doc["origin_endpoint"] = announce.origin_endpoint ? announce.origin_endpoint->to_string() : "";
    if (!announce.routable_networks.empty()) {
        auto& networks = doc["routable_networks"] = nlohmann::ordered_json::array();
        for (const auto& prefix : announce.routable_networks) {
            networks.push_back(prefix.to_string());
        }
    }
    doc["hop_count"] = announce.hop_count;
    doc["timestamp"] = announce.timestamp;
    doc["nonce"] = wg::base64_encode(announce.nonce);
    return doc.dump();
}

namespace {

const std::string* string_field(const nlohmann::json& doc, const char* name) {
    auto it = doc.find(name);
    if (it == doc.end() || !it->is_string()) {
        return nullptr;
    }
    return &it->get_ref<const std::string&>();
}

}  // namespace

std::optional<Announce> parse_announce(std::string_view text) {
    std::string error;
    auto doc = parse_json_bounded(text, {kMaxAnnounceBytes, 8}, error);
    if (!doc || !doc->is_object()) {
        return std::nullopt;
    }
    Announce announce;
    const std::string* key = string_field(*doc, "origin_pubkey");
    const std::string* mesh_ip = string_field(*doc, "origin_mesh_ip");
    const std::string* endpoint = string_field(*doc, "origin_endpoint");
    const std::string* nonce = string_field(*doc, "nonce");
    if (!key || !mesh_ip || !endpoint || !nonce) {
        return std::nullopt;
    }
    auto parsed_key = wg::Key::parse(*key);
    auto parsed_ip = netlink::IpAddress::parse(*mesh_ip);
    if (!parsed_key || parsed_key->is_zero() || key->size() != 44 || !parsed_ip) {
        return std::nullopt;
    }
    announce.origin_pubkey = *parsed_key;
    announce.origin_mesh_ip = *parsed_ip;
    if (!endpoint->empty()) {
        announce.origin_endpoint = netlink::SocketAddress::parse(*endpoint);
        if (!announce.origin_endpoint) {
            return std::nullopt;
        }
    }
    if (auto it = doc->find("routable_networks"); it != doc->end() && !it->is_null()) {
        if (!it->is_array() || it->size() > 1024) {
            return std::nullopt;
        }
        for (const auto& network : *it) {
            auto prefix = network.is_string()
                              ? netlink::Prefix::parse(network.get_ref<const std::string&>())
                              : std::nullopt;
            if (!prefix) {
                return std::nullopt;
            }
            announce.routable_networks.push_back(*prefix);
        }
    }
    auto hop = doc->find("hop_count");
    auto timestamp = doc->find("timestamp");
    if (hop == doc->end() || timestamp == doc->end()) {
        return std::nullopt;
    }
    const auto hop_value = json_int64(*hop);
    const auto timestamp_value = json_int64(*timestamp);
    if (!hop_value || *hop_value < 0 || *hop_value > 255 || !timestamp_value ||
        *timestamp_value < 0) {
        return std::nullopt;
    }
    announce.hop_count = static_cast<std::uint8_t>(*hop_value);
    announce.timestamp = *timestamp_value;
    auto nonce_bytes = wg::base64_decode(*nonce);
    if (!nonce_bytes || nonce_bytes->size() != announce.nonce.size()) {
        return std::nullopt;
    }
    std::copy(nonce_bytes->begin(), nonce_bytes->end(), announce.nonce.begin());
    return announce;
}

DandelionRouter::DandelionRouter(const EpochSeed& seed, wg::Key self, FluffCoin coin)
    : seed_(seed), self_(self), coin_(coin ? std::move(coin) : FluffCoin(&csprng_fluff_coin)) {
    epoch_.started_at = Clock::now();
}

void DandelionRouter::rotate(std::span<const Peer> active_peers, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    const std::uint64_t next = epoch_.id + 1;
    // Ranking 1000 peers is 1000 HMACs: cheap enough to do under the lock, and it keeps
    // two concurrent rotations from producing the same epoch id twice.
    epoch_.relays = select_relays(seed_, next, active_peers, self_);
    epoch_.id = next;
    epoch_.started_at = now;
}

Epoch DandelionRouter::epoch() const {
    std::lock_guard lock(mutex_);
    return epoch_;
}

AnnounceDecision DandelionRouter::route(Announce announce) const {
    AnnounceDecision decision;
    if (announce.hop_count >= kMaxStemHops) {
        announce.hop_count = kMaxStemHops;
    } else {
        ++announce.hop_count;
    }
    if (announce.hop_count >= kMaxStemHops || coin_()) {
        decision.action = AnnounceAction::kFluff;
        decision.announce = std::move(announce);
        return decision;
    }
    std::lock_guard lock(mutex_);
    if (epoch_.relays.empty()) {
        decision.action = AnnounceAction::kFluff;
    } else {
        decision.action = AnnounceAction::kStem;
        decision.relay = epoch_.relays[announce.hop_count % epoch_.relays.size()];
    }
    decision.announce = std::move(announce);
    return decision;
}

}  // namespace wgmesh::mesh
