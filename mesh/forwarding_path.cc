#include "mesh/forwarding_path.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "mesh/terminal_text.h"
#include "netlink/nft_forwarding_plan.h"

namespace wgmesh::mesh {
namespace {

using netlink::NftChain;
using netlink::NftListing;
using netlink::NftRule;
using nlohmann::json;

// The kernel refuses rulesets that jump deeper than this (NFT_JUMP_STACK_SIZE).
constexpr std::size_t kMaxJumpDepth = 16;
// Rule visits per walk of one base chain for one packet: a bound on the work hostile or huge
// rulesets can cause (undecidable jumps are followed too, so chains can be walked repeatedly).
constexpr std::size_t kMaxRuleVisits = 20000;
// Names from the ruleset in reasons: shown terminal-safe and shortened.
constexpr std::size_t kMaxNameBytes = 64;

constexpr std::string_view kForwardHook = "forward";

// Why a verdict only may apply, appended to the rule that gives it.
constexpr const char* kUndecidedMatch =
    ", whose match depends on more than the interfaces, protocol and connection state";
constexpr const char* kSomePackets = ", reached by some of these packets only";

// ---------------------------------------------------------------------------------------
// Three-valued matching: a relay packet fixes its interfaces, family, layer-4 protocol and
// connection state; anything else a rule looks at is unknown.

enum class Tri { kFalse, kTrue, kUnknown };

Tri tri_and(Tri a, Tri b) {
    if (a == Tri::kFalse || b == Tri::kFalse) {
        return Tri::kFalse;
    }
    return a == Tri::kTrue && b == Tri::kTrue ? Tri::kTrue : Tri::kUnknown;
}

Tri tri_not(Tri a) {
    return a == Tri::kUnknown ? a : (a == Tri::kTrue ? Tri::kFalse : Tri::kTrue);
}

struct Protocol {
    std::string_view name;  // as nft prints it for meta l4proto
    std::int64_t number;
    std::string_view header;  // the payload protocol whose fields imply it
    std::string_view shown;
};
constexpr Protocol kTcp{"tcp", 6, "tcp", "TCP"};
constexpr Protocol kUdp{"udp", 17, "udp", "UDP"};
constexpr Protocol kIcmp{"icmp", 1, "icmp", "ICMP"};
constexpr Protocol kIcmpV6{"ipv6-icmp", 58, "icmpv6", "ICMPv6"};

// One relay packet the chains are evaluated for.
struct Packet {
    std::string_view interface_name;
    bool ipv6 = false;
    Protocol protocol = kTcp;
    std::string_view ct_state;  // "new" or "established"

    std::string describe() const {
        return std::string(protocol.shown) + ", " +
               (ct_state == "new" ? "first packet of a connection" : "established connection") +
               ", " + (ipv6 ? "IPv6" : "IPv4");
    }
};

std::vector<Packet> relay_packets(std::string_view interface_name, bool ipv6) {
    std::vector<Packet> packets;
    for (const bool v6 : {false, true}) {
        if (v6 && !ipv6) {
            continue;
        }
        for (const Protocol& protocol : {kTcp, kUdp, v6 ? kIcmpV6 : kIcmp}) {
            for (const std::string_view state : {"new", "established"}) {
                packets.push_back({interface_name, v6, protocol, state});
            }
        }
    }
    return packets;
}

// A field of the packet: the names and number nft may print it as.
struct Value {
    std::vector<std::string_view> names;
    std::optional<std::int64_t> number;
    bool interface_name = false;  // compared with nft's trailing-'*' wildcards
};

const json* member(const json& object, const char* key) {
    if (!object.is_object()) {
        return nullptr;
    }
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

std::string_view string_member(const json& object, const char* key) {
    const json* value = member(object, key);
    return value && value->is_string() ? std::string_view(value->get_ref<const std::string&>())
                                       : std::string_view();
}

// "wg*" matches every name starting with "wg"; "wg\*" is a literal star.
bool interface_pattern_matches(std::string_view pattern, std::string_view name) {
    if (pattern.size() >= 1 && pattern.back() == '*' &&
        (pattern.size() < 2 || pattern[pattern.size() - 2] != '\\')) {
        return name.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
    }
    return pattern == name;
}

Tri element_equals(const json& element, const Value& value) {
    if (element.is_string()) {
        const std::string& text = element.get_ref<const std::string&>();
        if (text.starts_with('@')) {
            return Tri::kUnknown;  // a named set: its elements are not in the rule
        }
        if (value.interface_name) {
            return value.names.empty() || !interface_pattern_matches(text, value.names.front())
                       ? Tri::kFalse
                       : Tri::kTrue;
        }
        return std::find(value.names.begin(), value.names.end(), text) != value.names.end()
                   ? Tri::kTrue
                   : Tri::kFalse;
    }
    if (element.is_number_integer() && value.number) {
        return element.get<std::int64_t>() == *value.number ? Tri::kTrue : Tri::kFalse;
    }
    return Tri::kUnknown;  // an index, a prefix, a range, a concatenation
}

Tri any_element(const json& elements, const Value& value) {
    Tri result = Tri::kFalse;
    for (const json& element : elements) {
        const Tri one = element_equals(element, value);
        if (one == Tri::kTrue) {
            return Tri::kTrue;
        }
        if (one == Tri::kUnknown) {
            result = Tri::kUnknown;
        }
    }
    return result;
}

// Whether `value` is in the right-hand side of a match: one value, a flag list or a set.
Tri contains(const json& right, const Value& value) {
    if (right.is_array()) {
        return any_element(right, value);
    }
    if (const json* set = member(right, "set"); set && set->is_array()) {
        return any_element(*set, value);
    }
    return element_equals(right, value);
}

std::optional<Value> meta_value(std::string_view key, const Packet& packet) {
    if (key == "iifname" || key == "oifname" || key == "iif" || key == "oif") {
        // nft prints iif/oif as the interface's name when it exists, else as an index
        // (compared as unknown: no index is known here).
        return Value{{packet.interface_name}, std::nullopt, true};
    }
    if (key == "l4proto") {
        return Value{{packet.protocol.name}, packet.protocol.number};
    }
    if (key == "nfproto") {
        return packet.ipv6 ? Value{{"ipv6"}, 10} : Value{{"ipv4"}, 2};
    }
    if (key == "protocol") {
        return packet.ipv6 ? Value{{"ip6"}, 0x86dd} : Value{{"ip"}, 0x0800};
    }
    return std::nullopt;
}

// The packet's value of a match's left-hand side, when a relay packet fixes it.
std::optional<Value> packet_value(const json& left, const Packet& packet) {
    if (const json* meta = member(left, "meta")) {
        return meta_value(string_member(*meta, "key"), packet);
    }
    if (const json* ct = member(left, "ct")) {
        if (string_member(*ct, "key") == "state" && !member(*ct, "dir")) {
            return Value{{packet.ct_state}, std::nullopt};
        }
        return std::nullopt;
    }
    if (const json* payload = member(left, "payload")) {
        const std::string_view protocol = string_member(*payload, "protocol");
        const std::string_view field = string_member(*payload, "field");
        if ((protocol == "ip" && field == "protocol") ||
            (protocol == "ip6" && field == "nexthdr")) {
            return Value{{packet.protocol.name}, packet.protocol.number};
        }
    }
    return std::nullopt;
}

// A header field implies its protocol: `tcp dport 22` never matches a UDP packet, `ip saddr`
// never an IPv6 one, whatever the operator.
bool implies_other_protocol(const json& left, const Packet& packet) {
    const json* payload = member(left, "payload");
    if (!payload) {
        return false;
    }
    const std::string_view protocol = string_member(*payload, "protocol");
    if (protocol == "ip") {
        return packet.ipv6;
    }
    if (protocol == "ip6") {
        return !packet.ipv6;
    }
    static constexpr std::string_view kTransport[] = {"tcp",  "udp",  "udplite", "sctp",
                                                      "dccp", "icmp", "icmpv6",  "igmp",
                                                      "esp",  "ah",   "comp",    "gre"};
    const bool transport =
        std::find(std::begin(kTransport), std::end(kTransport), protocol) != std::end(kTransport);
    return transport && protocol != packet.protocol.header;
}

// Relay traffic is not NATed by this node: `ct status dnat` / `snat` do not match it.
bool is_nat_status_match(const json& left, const json& right) {
    const json* ct = member(left, "ct");
    if (!ct || string_member(*ct, "key") != "status") {
        return false;
    }
    const auto is_nat = [](const json& flag) {
        return flag.is_string() && (flag == "dnat" || flag == "snat");
    };
    if (right.is_array()) {
        return !right.empty() && std::all_of(right.begin(), right.end(), is_nat);
    }
    return is_nat(right);
}

Tri evaluate_match(const json& match, const Packet& packet) {
    const json* left = member(match, "left");
    const json* right = member(match, "right");
    const std::string_view op = string_member(match, "op");
    if (!left || !right) {
        return Tri::kUnknown;
    }
    if (implies_other_protocol(*left, packet)) {
        return Tri::kFalse;
    }
    const bool positive = op == "==" || op == "in";
    if (positive && is_nat_status_match(*left, *right)) {
        return Tri::kFalse;
    }
    const std::optional<Value> value = packet_value(*left, packet);
    if (!value || (!positive && op != "!=")) {
        return Tri::kUnknown;
    }
    const Tri found = contains(*right, *value);
    return positive ? found : tri_not(found);
}

// ---------------------------------------------------------------------------------------
// Verdicts of one rule.

struct Action {
    enum class Kind { kNone, kAccept, kDrop, kJump, kGoto, kReturn, kQueue } kind = Kind::kNone;
    std::string word;    // "accept", "drop", "reject", "jump", ... for reasons
    std::string target;  // jump and goto
};

// The verdict a statement gives, or nullopt when it is not a verdict.
std::optional<Action> verdict_of(const std::string& key, const json& value) {
    using Kind = Action::Kind;
    if (key == "accept") {
        return Action{Kind::kAccept, key, {}};
    }
    if (key == "drop" || key == "reject") {
        return Action{Kind::kDrop, key, {}};
    }
    if (key == "jump" || key == "goto") {
        return Action{key == "jump" ? Kind::kJump : Kind::kGoto, key,
                      std::string(string_member(value, "target"))};
    }
    if (key == "return") {
        return Action{Kind::kReturn, key, {}};
    }
    if (key == "continue") {
        return Action{Kind::kNone, key, {}};
    }
    if (key == "queue") {
        return Action{Kind::kQueue, key, {}};
    }
    if (key == "xt" && string_member(value, "type") == "target") {
        // iptables-nft rules nft cannot translate; the terminal targets decide, the others
        // (LOG, MARK, TCPMSS, ...) let the packet go on.
        const std::string_view name = string_member(value, "name");
        if (name == "REJECT" || name == "DROP") {
            return Action{Kind::kDrop, "xt " + std::string(name), {}};
        }
        if (name == "ACCEPT") {
            return Action{Kind::kAccept, "xt ACCEPT", {}};
        }
        if (name == "NFQUEUE" || name == "QUEUE") {
            return Action{Kind::kQueue, "xt " + std::string(name), {}};
        }
        return Action{Kind::kNone, "xt target", {}};
    }
    return std::nullopt;
}

// Statements that neither decide nor test: the packet goes on whatever they do.
bool is_side_effect(const std::string& key) {
    static constexpr std::string_view kSideEffects[] = {
        "counter",   "log",        "mangle",         "notrack", "set", "map",
        "ct helper", "ct timeout", "ct expectation", "secmark", "dup"};
    return std::find(std::begin(kSideEffects), std::end(kSideEffects), key) !=
           std::end(kSideEffects);
}

// What a rule may do to the packet: each candidate with whether it certainly applies (kTrue)
// or may (kUnknown). Empty when the rule certainly does not match or gives no verdict.
struct Candidate {
    Action action;
    Tri applies;
};

std::vector<Candidate> vmap_candidates(const json& vmap, Tri applies, const Packet& packet) {
    std::vector<Candidate> candidates;
    const json* key = member(vmap, "key");
    const json* data = member(vmap, "data");
    const json* elements = data ? member(*data, "set") : nullptr;
    const std::optional<Value> value = key ? packet_value(*key, packet) : std::nullopt;
    if (!elements || !elements->is_array()) {
        // A named map ("@name"): its verdicts are not in the rule.
        candidates.push_back({{Action::Kind::kQueue, "verdict map", {}}, Tri::kUnknown});
        return candidates;
    }
    for (const json& element : *elements) {
        if (!element.is_array() || element.size() != 2 || !element[1].is_object() ||
            element[1].size() != 1) {
            continue;
        }
        const auto verdict = verdict_of(element[1].begin().key(), element[1].begin().value());
        if (!verdict) {
            continue;
        }
        const Tri matches = value ? element_equals(element[0], *value) : Tri::kUnknown;
        if (matches == Tri::kFalse) {
            continue;
        }
        candidates.push_back({*verdict, tri_and(applies, matches)});
        if (candidates.back().applies == Tri::kTrue) {
            break;  // one key has one element
        }
    }
    return candidates;
}

std::vector<Candidate> evaluate_rule(const NftRule& rule, const Packet& packet) {
    Tri applies = Tri::kTrue;
    for (const json& statement : rule.expr) {
        if (!statement.is_object() || statement.size() != 1) {
            applies = tri_and(applies, Tri::kUnknown);
            continue;
        }
        const std::string& key = statement.begin().key();
        const json& value = statement.begin().value();
        if (key == "match") {
            applies = tri_and(applies, evaluate_match(value, packet));
        } else if (key == "vmap") {
            return vmap_candidates(value, applies, packet);
        } else if (const auto verdict = verdict_of(key, value)) {
            if (verdict->kind == Action::Kind::kNone) {
                continue;
            }
            return {{*verdict, applies}};
        } else if (!is_side_effect(key)) {
            applies = tri_and(applies, Tri::kUnknown);  // limit, quota, xt match, meter, ...
        }
        if (applies == Tri::kFalse) {
            return {};
        }
    }
    return {};
}

// ---------------------------------------------------------------------------------------
// Walking the chains.

using ChainKey = std::tuple<std::string, std::string, std::string>;  // family, table, name

std::string shown_name(const std::string& family, const std::string& table,
                       const std::string& chain) {
    return terminal_safe(family + " " + table + " " + chain, 3 * kMaxNameBytes);
}

class RulesetIndex {
  public:
    explicit RulesetIndex(const NftListing& listing) {
        for (const NftChain& chain : listing.chains) {
            rules_.try_emplace(ChainKey{chain.family, chain.table, chain.name});
        }
        for (const NftRule& rule : listing.rules) {
            rules_[ChainKey{rule.family, rule.table, rule.chain}].push_back(&rule);
        }
    }
    const std::vector<const NftRule*>* find(const ChainKey& key) const {
        const auto it = rules_.find(key);
        return it == rules_.end() ? nullptr : &it->second;
    }

  private:
    std::map<ChainKey, std::vector<const NftRule*>> rules_;
};

struct Exit {
    enum class Kind { kReturn, kAccept, kDrop, kUndecided } kind = Kind::kReturn;
    std::string where;
};

enum class Outcome { kAccept, kMayDrop, kDrop };

struct ChainResult {
    Outcome outcome = Outcome::kAccept;
    std::string detail;
};

class ChainWalker {
  public:
    ChainWalker(const RulesetIndex& index, const Packet& packet, const std::string& interface_name)
        : index_(index),
          packet_(packet),
          our_comment_(netlink::forwarding_rule_comment(interface_name)) {}

    ChainResult evaluate(const NftChain& base) {
        Exit exit = walk({base.family, base.table, base.name}, 0, false);
        if (exit.kind == Exit::Kind::kReturn) {
            const bool drops = base.policy == "drop";
            exit = {drops ? Exit::Kind::kDrop : Exit::Kind::kAccept,
                    std::string("its policy ") + (drops ? "drop" : "accept")};
        }
        switch (exit.kind) {
            case Exit::Kind::kAccept:
                if (maybe_drop_.empty()) {
                    return {Outcome::kAccept, exit.where};
                }
                return {Outcome::kMayDrop,
                        maybe_drop_ + ", may drop it before " + exit.where + " accepts"};
            case Exit::Kind::kDrop:
                if (maybe_accept_.empty()) {
                    return {Outcome::kDrop, exit.where};
                }
                return {Outcome::kMayDrop,
                        exit.where + " drops it unless " + maybe_accept_ + ", accepts first"};
            case Exit::Kind::kUndecided:
            case Exit::Kind::kReturn:
                break;
        }
        return {Outcome::kMayDrop, exit.where};
    }

  private:
    std::string describe(const ChainKey& chain, const NftRule& rule, const Action& action) const {
        std::string text = "rule handle " + std::to_string(rule.handle) + " (" + action.word;
        if (!action.target.empty()) {
            text += " " + terminal_safe(action.target, kMaxNameBytes);
        }
        if (rule.comment == our_comment_) {
            text += ", wgmesh's tagged accept";
        }
        return text + ") in " +
               shown_name(std::get<0>(chain), std::get<1>(chain), std::get<2>(chain));
    }

    void note_accept(const std::string& where) {
        if (maybe_accept_.empty()) {
            maybe_accept_ = where;
        }
    }
    void note_drop(const std::string& where) {
        if (maybe_drop_.empty()) {
            maybe_drop_ = where;
        }
    }

    // Follows a jump or goto; nullopt when the target cannot be followed (noted as a
    // possible drop, so the outcome is at best "may drop").
    std::optional<Exit> follow(const Action& action, const std::string& where, const ChainKey& from,
                               std::size_t depth, bool maybe) {
        const ChainKey target{std::get<0>(from), std::get<1>(from), action.target};
        if (depth + 1 > kMaxJumpDepth) {
            note_drop(where + ", which jumps deeper than " + std::to_string(kMaxJumpDepth) +
                      " chains");
            return std::nullopt;
        }
        if (!index_.find(target)) {
            note_drop(where + ", whose target chain the ruleset does not list");
            return std::nullopt;
        }
        return walk(target, depth + 1, maybe);
    }

    // Walks one chain. In `maybe` mode the packet may not be here at all: its verdicts are
    // only noted, and the walk always returns to the caller.
    Exit walk(const ChainKey& chain, std::size_t depth, bool maybe) {
        const std::vector<const NftRule*>* rules = index_.find(chain);
        if (!rules) {
            return {};
        }
        for (const NftRule* rule : *rules) {
            if (++visits_ > kMaxRuleVisits) {
                note_drop("a ruleset too large to follow (more than " +
                          std::to_string(kMaxRuleVisits) + " rule visits)");
                return {Exit::Kind::kUndecided, maybe_drop_};
            }
            for (const Candidate& candidate : evaluate_rule(*rule, packet_)) {
                const std::string where = describe(chain, *rule, candidate.action);
                if (candidate.applies != Tri::kTrue) {
                    consider(candidate.action, where, chain, depth);
                } else if (const std::optional<Exit> exit =
                               take(candidate.action, where, chain, depth, maybe)) {
                    return *exit;
                }
                // After a return or goto that only some packets take, the rest of the chain
                // sees only the others.
                maybe = maybe || (candidate.applies != Tri::kTrue &&
                                  (candidate.action.kind == Action::Kind::kReturn ||
                                   candidate.action.kind == Action::Kind::kGoto));
            }
        }
        return {};
    }

    // A verdict every packet that reaches the rule takes; returns how the walk of this chain
    // ends, or nullopt when it goes on. In maybe mode the ends are noted and the walk returns.
    std::optional<Exit> take(const Action& action, const std::string& where, const ChainKey& chain,
                             std::size_t depth, bool maybe) {
        switch (action.kind) {
            case Action::Kind::kNone:
                return std::nullopt;
            case Action::Kind::kAccept:
                if (maybe) {
                    note_accept(where + kSomePackets);
                    return Exit{};
                }
                return Exit{Exit::Kind::kAccept, where};
            case Action::Kind::kDrop:
                if (maybe) {
                    note_drop(where + kSomePackets);
                    return Exit{};
                }
                return Exit{Exit::Kind::kDrop, where};
            case Action::Kind::kQueue:
                note_drop(where + ", whose verdict the rule does not show");
                note_accept(where);
                return maybe ? Exit{} : Exit{Exit::Kind::kUndecided, maybe_drop_};
            case Action::Kind::kJump: {
                const std::optional<Exit> exit = follow(action, where, chain, depth, maybe);
                if (!maybe && exit && exit->kind != Exit::Kind::kReturn) {
                    return exit;
                }
                return std::nullopt;
            }
            case Action::Kind::kGoto: {
                // The goto's end returns to our caller.
                const std::optional<Exit> exit = follow(action, where, chain, depth, maybe);
                if (maybe || exit) {
                    return maybe ? Exit{} : *exit;
                }
                return Exit{Exit::Kind::kUndecided, maybe_drop_};
            }
            case Action::Kind::kReturn:
                return Exit{};
        }
        return std::nullopt;
    }

    // A verdict only some packets take: noted, and jumps followed for those packets.
    void consider(const Action& action, const std::string& where, const ChainKey& chain,
                  std::size_t depth) {
        switch (action.kind) {
            case Action::Kind::kAccept:
                note_accept(where + kUndecidedMatch);
                break;
            case Action::Kind::kDrop:
                note_drop(where + kUndecidedMatch);
                break;
            case Action::Kind::kQueue:
                note_drop(where + ", whose verdict the rule does not show");
                note_accept(where);
                break;
            case Action::Kind::kJump:
            case Action::Kind::kGoto:
                follow(action, where, chain, depth, true);
                break;
            case Action::Kind::kNone:
            case Action::Kind::kReturn:
                break;
        }
    }

    const RulesetIndex& index_;
    const Packet& packet_;
    const std::string our_comment_;
    std::size_t visits_ = 0;
    std::string maybe_accept_;  // the first verdict that may accept, for reasons
    std::string maybe_drop_;    // the first that may drop
};

// ---------------------------------------------------------------------------------------
// Checks.

bool applies_to(const NftChain& chain, bool ipv6_packet) {
    return chain.family == "inet" || chain.family == (ipv6_packet ? "ip6" : "ip");
}

std::vector<const NftChain*> forward_base_chains(const NftListing& ruleset, bool ipv6) {
    std::vector<const NftChain*> chains;
    for (const NftChain& chain : ruleset.chains) {
        if (chain.is_base() && chain.hook == kForwardHook &&
            (applies_to(chain, false) || (ipv6 && applies_to(chain, true)))) {
            chains.push_back(&chain);
        }
    }
    // A lower priority number runs first; equal ones in a stable, readable order.
    std::stable_sort(chains.begin(), chains.end(), [](const NftChain* a, const NftChain* b) {
        return std::tuple(a->priority.value_or(0), a->family, a->table, a->name) <
               std::tuple(b->priority.value_or(0), b->family, b->table, b->name);
    });
    return chains;
}

bool table_has_chain_prefix(const NftListing& ruleset, const NftChain& base,
                            std::string_view prefix) {
    return std::any_of(ruleset.chains.begin(), ruleset.chains.end(), [&](const NftChain& chain) {
        return chain.family == base.family && chain.table == base.table &&
               chain.name.starts_with(prefix);
    });
}

bool chain_has_our_accept(const NftListing& ruleset, const NftChain& base,
                          const std::string& interface_name) {
    const std::string comment = netlink::forwarding_rule_comment(interface_name);
    return std::any_of(ruleset.rules.begin(), ruleset.rules.end(), [&](const NftRule& rule) {
        return rule.family == base.family && rule.table == base.table && rule.chain == base.name &&
               rule.comment == comment;
    });
}

// What the operator does about a chain that drops relay traffic, depending on whose it is.
std::string chain_action(const NftListing& ruleset, const NftChain& chain,
                         const std::string& interface_name) {
    const std::string& i = interface_name;
    const std::string ufw = table_has_chain_prefix(ruleset, chain, "ufw")
                                ? "allow it in ufw: ufw route allow in on " + i + " out on " + i
                                : std::string();
    if (chain.family == netlink::kForwardingTableFamily &&
        chain.table == netlink::forwarding_table_name(i)) {
        return "this is wgmesh's own table, rebuilt every cycle: something edits it; if it "
               "persists, run `wgmesh cleanup` and restart the daemon";
    }
    if ((chain.family == "ip" || chain.family == "ip6") && chain.table == "filter" &&
        chain.name == "FORWARD") {
        if (chain_has_our_accept(ruleset, chain, i)) {
            const std::string tool = chain.family == "ip" ? "iptables" : "ip6tables";
            return "a rule above wgmesh's tagged accept decides first: move it below, or allow " +
                   i + " to " + i + " before it (" + tool + " -I FORWARD -i " + i + " -o " + i +
                   " -j ACCEPT)";
        }
        return "wgmesh inserts its tagged accept (comment \"" +
               netlink::forwarding_rule_comment(i) +
               "\") at the top of this chain every cycle; if it stays missing, `wgmesh status` "
               "shows why" +
               (ufw.empty() ? "" : "; or " + ufw);
    }
    if (chain.table == "firewalld") {
        return "put " + i +
               " in a firewalld zone that forwards within itself: firewall-cmd --permanent "
               "--zone=trusted --add-interface=" +
               i + " (or --add-forward on its zone), then firewall-cmd --reload";
    }
    if (!ufw.empty()) {
        return ufw;
    }
    return "allow it before the drop: add `iifname \"" + i + "\" oifname \"" + i +
           "\" accept` near the top of " + shown_name(chain.family, chain.table, chain.name);
}

ForwardingCheck chain_check(const NftListing& ruleset, const RulesetIndex& index,
                            const NftChain& chain, const std::string& interface_name, bool ipv6) {
    ChainResult worst;
    std::string worst_packet;
    bool first = true;
    for (const Packet& packet : relay_packets(interface_name, ipv6)) {
        if (!applies_to(chain, packet.ipv6)) {
            continue;
        }
        ChainWalker walker(index, packet, interface_name);
        ChainResult result = walker.evaluate(chain);
        if (first || result.outcome > worst.outcome) {
            worst = std::move(result);
            worst_packet = packet.describe();
            first = false;
        }
    }
    ForwardingCheck check;
    check.name = "nftables " + shown_name(chain.family, chain.table, chain.name);
    switch (worst.outcome) {
        case Outcome::kAccept:
            check.verdict = CheckVerdict::kOk;
            check.reason = "accepts relay traffic on " + interface_name + " (" + worst.detail + ")";
            return check;
        case Outcome::kMayDrop:
            check.verdict = CheckVerdict::kWarn;
            check.reason = "may drop relay traffic on " + interface_name + " (" + worst_packet +
                           "): " + worst.detail;
            break;
        case Outcome::kDrop:
            check.verdict = CheckVerdict::kFail;
            check.reason = "drops relay traffic on " + interface_name + " (" + worst_packet +
                           ") at " + worst.detail;
            break;
    }
    check.action = chain_action(ruleset, chain, interface_name);
    return check;
}

ForwardingCheck unreadable(std::string name, const netlink::SysctlReading& reading) {
    return {std::move(name), CheckVerdict::kWarn,
            "cannot read " + reading.key + ": " + terminal_safe(reading.error, 200),
            "check that /proc/sys is mounted and the interface exists"};
}

ForwardingCheck unexpected(std::string name, const netlink::SysctlReading& reading) {
    return {std::move(name), CheckVerdict::kWarn,
            reading.key + " is " + terminal_safe(*reading.value, 32) + ", not 0, 1 or 2",
            "check the kernel's documentation for " + reading.key};
}

ForwardingCheck ip_forward_check(const netlink::ForwardingState& state) {
    const std::string name = "ip_forward";
    for (const netlink::SysctlReading* reading :
         {&state.ipv4_forward, &state.ipv4_interface_forwarding}) {
        if (!reading->value) {
            return unreadable(name, *reading);
        }
        if (*reading->value == "0") {
            const bool global = reading == &state.ipv4_forward;
            return {name, CheckVerdict::kFail,
                    reading->key + " is 0: the kernel forwards no IPv4 packet " +
                        (global ? std::string("at all") : "arriving on " + state.interface_name) +
                        ", relay traffic included",
                    "wgmesh sets net.ipv4.ip_forward=1 (which also sets every interface's) when "
                    "it finds it off; something switched it off since (a sysctl.d file, another "
                    "daemon): find it, then sysctl -w " +
                        reading->key + "=1"};
        }
        if (*reading->value != "1") {
            return unexpected(name, *reading);
        }
    }
    return {name, CheckVerdict::kOk,
            state.ipv4_forward.key + " and " + state.ipv4_interface_forwarding.key + " are 1", ""};
}

ForwardingCheck ipv6_forwarding_check(const netlink::ForwardingState& state) {
    const std::string name = "ipv6_forwarding";
    const netlink::SysctlReading& reading = state.ipv6_forwarding;
    if (!reading.value) {
        return unreadable(name, reading);
    }
    if (*reading.value == "0") {
        return {name, CheckVerdict::kFail,
                reading.key +
                    " is 0 while IPv6 routes are advertised: IPv6 relay traffic is "
                    "not forwarded",
                "sysctl -w net.ipv6.conf.all.forwarding=1 (wgmesh leaves it alone because it "
                "stops router advertisements on every interface: set accept_ra=2 on an uplink "
                "that needs them)"};
    }
    if (*reading.value != "1") {
        return unexpected(name, reading);
    }
    return {name, CheckVerdict::kOk, reading.key + " is 1", ""};
}

std::optional<int> rp_filter_mode(const std::string& value) {
    if (value == "0" || value == "1" || value == "2") {
        return value[0] - '0';
    }
    return std::nullopt;
}

ForwardingCheck rp_filter_check(const netlink::ForwardingState& state) {
    const std::string name = "rp_filter";
    int effective = 0;
    for (const netlink::SysctlReading* reading :
         {&state.rp_filter_all, &state.rp_filter_interface}) {
        if (!reading->value) {
            return unreadable(name, *reading);
        }
        const std::optional<int> mode = rp_filter_mode(*reading->value);
        if (!mode) {
            return unexpected(name, *reading);
        }
        effective = std::max(effective, *mode);
    }
    const std::string values = state.rp_filter_all.key + " = " + *state.rp_filter_all.value + ", " +
                               state.rp_filter_interface.key + " = " +
                               *state.rp_filter_interface.value;
    if (effective == 1) {
        return {name, CheckVerdict::kWarn,
                "strict reverse-path filtering (" + values +
                    "; the larger applies): a relayed packet is dropped when the kernel would "
                    "route its source out of another interface, as with a network reachable "
                    "both through the mesh and the underlay",
                "use loose mode: sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf." +
                    state.interface_name + ".rp_filter=2"};
    }
    return {
        name, CheckVerdict::kOk,
        std::string(effective == 0 ? "no" : "loose") + " reverse-path filtering (" + values + ")",
        ""};
}

ForwardingCheck iptables_legacy_check(const netlink::ForwardingState& state) {
    const std::string name = "iptables_legacy";
    if (state.iptables_legacy.empty()) {
        return {name, CheckVerdict::kOk, "no iptables-legacy tables", ""};
    }
    const std::string& i = state.interface_name;
    return {name, CheckVerdict::kWarn,
            "iptables-legacy tables exist (" + state.iptables_legacy.to_string() +
                "): wgmesh neither manages nor reads them, so a DROP there is not proven absent",
            "look with iptables-legacy -S FORWARD; allow relay traffic there: iptables-legacy -I "
            "FORWARD -i " +
                i + " -o " + i + " -j ACCEPT"};
}

}  // namespace

std::string_view check_verdict_name(CheckVerdict verdict) {
    switch (verdict) {
        case CheckVerdict::kOk:
            return "ok";
        case CheckVerdict::kWarn:
            return "warn";
        case CheckVerdict::kFail:
            break;
    }
    return "fail";
}

CheckVerdict ForwardingPathReport::worst() const {
    CheckVerdict worst = CheckVerdict::kOk;
    for (const ForwardingCheck& check : checks) {
        worst = std::max(worst, check.verdict);
    }
    return worst;
}

nlohmann::json ForwardingPathReport::to_json() const {
    json list = json::array();
    for (const ForwardingCheck& check : checks) {
        list.push_back({{"check", check.name},
                        {"verdict", check_verdict_name(check.verdict)},
                        {"reason", check.reason},
                        {"action", check.action}});
    }
    return {{"ok", ok()}, {"verdict", check_verdict_name(worst())}, {"checks", std::move(list)}};
}

std::vector<ForwardingCheck> check_forward_chains(const NftListing& ruleset,
                                                  const std::string& interface_name, bool ipv6) {
    const RulesetIndex index(ruleset);
    std::vector<ForwardingCheck> checks;
    for (const NftChain* chain : forward_base_chains(ruleset, ipv6)) {
        checks.push_back(chain_check(ruleset, index, *chain, interface_name, ipv6));
    }
    if (checks.empty()) {
        checks.push_back({"nftables", CheckVerdict::kOk,
                          "no base chain on the forward hook: nftables filters no forwarded packet",
                          ""});
    }
    return checks;
}

ForwardingPathReport check_forwarding_path(const netlink::ForwardingState& state) {
    ForwardingPathReport report;
    report.checks.push_back(ip_forward_check(state));
    if (state.ipv6) {
        report.checks.push_back(ipv6_forwarding_check(state));
    }
    report.checks.push_back(rp_filter_check(state));
    if (state.ruleset) {
        for (ForwardingCheck& check :
             check_forward_chains(*state.ruleset, state.interface_name, state.ipv6)) {
            report.checks.push_back(std::move(check));
        }
    } else {
        report.checks.push_back(
            {"nftables", CheckVerdict::kWarn,
             "cannot list the nftables ruleset: " + terminal_safe(state.ruleset_error, 200),
             "check that nf_tables is available: wgmesh's own forwarding "
             "rule needs it too"});
    }
    report.checks.push_back(iptables_legacy_check(state));
    return report;
}

}  // namespace wgmesh::mesh
