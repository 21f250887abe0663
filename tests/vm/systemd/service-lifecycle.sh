#!/usr/bin/env bash
# The service's whole life under a real systemd, with kernel WireGuard: `wgmesh service
# install` through the real systemctl; active only once the daemon's first cycle is done
# (Type=notify, READY=1); the full sandbox; a tunnel to a second daemon in another network
# namespace that pings; `systemctl reload` re-reads the peers file; stop saves the cache and the
# next start restores from it; `systemd-analyze security` on the loaded unit gives the offline
# check's exposure; `service uninstall` leaves nothing. (Contract: tests/vm/guest-systemd.sh.)
set -uo pipefail
source "$WGMESH_SRC/tests/vm/scenario-lib.sh"

iface=wgvm
peer_iface=wgvmpeer
peer_ns=wgmt-vm-peer
unit=wgmesh.service
state=/var/lib/wgmesh
peer_state=$SCENARIO_DIR/peer-state
secret=$SCENARIO_DIR/secret
peers=$SCENARIO_DIR/peers.json
peer_peers=$SCENARIO_DIR/peer-peers.json
peer_pid=

cleanup() {
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
    [ -e /etc/systemd/system/$unit ] && "$WGMESH" service uninstall
    "$WGMESH" cleanup --interface $iface >/dev/null 2>&1
    ip netns del $peer_ns 2>/dev/null
    ip link del veth-vm 2>/dev/null
    rm -f $state/$iface.key $state/$iface-peers.json $state/$iface-peers.json.tmp
}
trap cleanup EXIT
diagnose() {
    echo "--- state at the failure"
    wg show all
    ip -br addr
    ip route
    ip netns exec $peer_ns wg show all
    ip -n $peer_ns -br addr
    ip -n $peer_ns route
    echo "--- the peer daemon's log"
    cat "$SCENARIO_DIR/peer.log"
    echo "--- the service's journal"
    journalctl --no-pager -u $unit | tail -n 60
}

mesh_ip() {  # the mesh IPv4 address of public key $1
    "$WGMESH" derive --secret-file "$secret" --pubkey "$1" --json |
        sed -n 's/^ *"mesh_ip": "\(.*\)",*$/\1/p'
}
peers_json() {  # a peers file with the given "pubkey endpoint" pairs (endpoint may be empty)
    local first=1
    printf '['
    while [ $# -gt 0 ]; do
        [ $first = 1 ] || printf ','
        first=0
        printf '{"wg_pubkey": "%s"' "$1"
        [ -n "$2" ] && printf ', "endpoint": "%s"' "$2"
        printf '}'
        shift 2
    done
    printf ']\n'
}
wg_peers() { wg show $iface peers 2>/dev/null; }
has_peer() { wg_peers | grep -qxF "$1"; }
lacks_peer() { ! wg_peers | grep -qxF "$1"; }
monotonic_us() {  # "[  12.345678] ..." (journalctl -o short-monotonic) -> microseconds
    sed -n 's/^\[ *\([0-9]*\)\.\([0-9]*\)\].*/\1\2/p' | head -n 1
}
unit_us() { systemctl show -P "$1" $unit; }

step "keys, secret, peers files and a second network namespace"
printf 'wgmesh-vm-test-secret-0123456789' >"$secret"
install -d -m 0700 $state "$peer_state"
(umask 077 && "$WGMESH" genkey >$state/$iface.key && "$WGMESH" genkey >"$peer_state/$peer_iface.key")
key=$("$WGMESH" pubkey <$state/$iface.key)
peer_key=$("$WGMESH" pubkey <"$peer_state/$peer_iface.key")
extra_key=$("$WGMESH" genkey | "$WGMESH" pubkey)
peer_mesh_ip=$(mesh_ip "$peer_key")
mesh_ip=$(mesh_ip "$key")
[ -n "$peer_mesh_ip" ] && [ -n "$mesh_ip" ] || fail "wgmesh derive gave no mesh_ip"
check "netns" ip netns add $peer_ns
check "veth" ip link add veth-vm type veth peer name veth-peer netns $peer_ns
check "veth address" ip addr add 192.168.91.1/24 dev veth-vm
check "veth up" ip link set veth-vm up
check "peer address" ip -n $peer_ns addr add 192.168.91.2/24 dev veth-peer
check "peer up" ip -n $peer_ns link set veth-peer up
check "peer lo" ip -n $peer_ns link set lo up
peers_json "$peer_key" 192.168.91.2:51821 >"$peers"
peers_json "$key" 192.168.91.1:51820 >"$peer_peers"

step "service install with the real systemctl"
check "service install" "$WGMESH" service install --interface $iface --peers-file "$peers" \
    --secret-file "$secret" --log-level debug
check "active after install" systemctl is-active --quiet $unit
check "enabled after install" systemctl is-enabled --quiet $unit
check "Type=notify" test "$(systemctl show -P Type $unit)" = notify

step "active only after READY=1, sent after the daemon's first cycle"
# The daemon logs "control socket ..." just before its first cycle and "mesh: ..." at the end of
# it, then sends READY=1. A unit active at exec (Type=simple) would be active before both.
invocation=$(systemctl show -P InvocationID $unit)
journal() { journalctl -o short-monotonic --no-pager _SYSTEMD_INVOCATION_ID="$invocation"; }
wait_for "the first cycle's summary in the journal" 60 sh -c "journalctl --no-pager _SYSTEMD_INVOCATION_ID=$invocation | grep -q ' mesh: '"
before_cycle_us=$(journal | grep ' control socket ' | monotonic_us)
cycle_us=$(journal | grep ' mesh: ' | monotonic_us)
exec_us=$(unit_us ExecMainStartTimestampMonotonic)
active_us=$(unit_us ActiveEnterTimestampMonotonic)
echo "exec ${exec_us}us, before the first cycle ${before_cycle_us}us, first cycle done ${cycle_us}us, active ${active_us}us"
[ -n "$before_cycle_us" ] && [ -n "$cycle_us" ] && [ -n "$active_us" ] || fail "timestamps missing"
[ "$active_us" -gt "$before_cycle_us" ] || fail "the unit was active before the daemon's first cycle"
# Not asserted against cycle_us: journald stamps a stream line when it reads it, which may be
# after PID 1 handled the READY=1 sent right after that line (4-10 ms apart when measured).
# The line before the cycle leaves the whole first cycle as margin.

step "the full sandbox, kernel WireGuard"
main_pid=$(systemctl show -P MainPID $unit)
[ "$main_pid" -gt 0 ] || fail "no main pid"
caps=$(sed -n 's/^CapBnd:\t//p' /proc/$main_pid/status)
[ "$caps" = 0000000000001000 ] || fail "capability bounding set is $caps, not CAP_NET_ADMIN alone"
check "NoNewPrivs" grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$main_pid/status
check "seccomp filter" grep -q '^Seccomp:[[:space:]]*2' /proc/$main_pid/status
check "read-only /usr in the unit's mount namespace" sh -c "! nsenter -t $main_pid -m touch /usr/wgmesh-vm-probe 2>/dev/null"
wait_for "the interface" 60 ip link show $iface
ip -d link show $iface | grep -qw wireguard || fail "$iface is not a kernel WireGuard link: $(ip -d link show $iface)"
pgrep -x wireguard-go >/dev/null && fail "wireguard-go runs: the userspace backend was chosen"
check "status answers" "$WGMESH" status --interface $iface

step "a tunnel to a second daemon in another namespace"
# The peer's control socket goes into its own state dir: a daemon makes its socket's directory
# 0700, and the service (its own user, not root) must still reach the files in SCENARIO_DIR.
ip netns exec $peer_ns "$WGMESH" join --interface $peer_iface --listen-port 51821 \
    --state-dir "$peer_state" --peers-file "$peer_peers" --secret-file "$secret" \
    --control-socket "$peer_state/peer.sock" >"$SCENARIO_DIR/peer.log" 2>&1 &
peer_pid=$!
wait_for "ping from the service's side to the peer's mesh address" 120 ping -c 1 -W 1 "$peer_mesh_ip"
wait_for "ping from the peer's side to the service's mesh address" 60 ip netns exec $peer_ns ping -c 1 -W 1 "$mesh_ip"

step "systemctl reload re-reads the peers file"
# With an endpoint (nobody answers there): a peer without one is known but not configured.
peers_json "$extra_key" 192.168.91.3:51820 >"$peers"
check "reload" systemctl reload $unit
wait_for "the peer added to the file" 60 has_peer "$extra_key"
wait_for "the peer that left the file" 60 lacks_peer "$peer_key"
check "active after reload" systemctl is-active --quiet $unit
step "the peer comes back through the control socket (so only the cache knows it next)"
check "peer add" "$WGMESH" peer add --interface $iface --pubkey "$peer_key" --endpoint 192.168.91.2:51821
wait_for "ping after peer add" 120 ping -c 1 -W 1 "$peer_mesh_ip"

step "stop saves the cache, start restores from it"
check "stop" systemctl stop $unit
grep -qF "$peer_key" $state/$iface-peers.json || fail "the saved cache lacks the control-added peer"
check "interface removed while stopped" ip link del $iface
check "start" systemctl start $unit
check "active after start" systemctl is-active --quiet $unit
wait_for "the cached peer on the new interface" 60 has_peer "$peer_key"
wait_for "ping after the restart" 120 ping -c 1 -W 1 "$peer_mesh_ip"
invocation=$(systemctl show -P InvocationID $unit)
journalctl --no-pager _SYSTEMD_INVOCATION_ID="$invocation" | grep -q 'from cache' ||
    fail "the restarted daemon did not say it restored from the cache"

step "systemd-analyze security: the loaded unit and the offline check agree"
exposure() { sed -n 's/.*Overall exposure level for wgmesh.service: \([0-9.]*\).*/\1/p'; }
online=$(systemd-analyze security --no-pager $unit | exposure)
offline=$(systemd-analyze security --no-pager --offline=true /etc/systemd/system/$unit | exposure)
echo "exposure: loaded unit $online, offline $offline"
[ -n "$online" ] && [ "$online" = "$offline" ] || fail "exposure differs: loaded $online, offline $offline"

step "service uninstall leaves nothing"
check "uninstall" "$WGMESH" service uninstall
systemctl is-active --quiet $unit && fail "still active after uninstall"
for file in /etc/systemd/system/$unit /etc/wgmesh/secret.env /etc/iproute2/rt_protos.d/wgmesh.conf \
    /etc/systemd/system/multi-user.target.wants/$unit; do
    [ -e "$file" ] || [ -L "$file" ] && fail "left behind: $file"
done
[ -d /etc/wgmesh ] && fail "left behind: /etc/wgmesh"
[ "$(systemctl show -P LoadState $unit)" = not-found ] || fail "systemd still knows $unit: $(systemctl show -P LoadState $unit)"
pgrep -x wgmesh | grep -qvx "$peer_pid" && fail "a wgmesh process outlived the uninstall"
echo "passed"
