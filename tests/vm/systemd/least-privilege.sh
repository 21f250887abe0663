#!/usr/bin/env bash
# Least privilege under a real systemd: an older, root-run wgmesh leaves a root-owned
# /var/lib/wgmesh (node key, peer cache); the generated unit then runs the daemon as its own
# user (DynamicUser=, User=wgmesh) with CAP_NET_ADMIN alone, takes that directory over without
# losing the key or the cache, and builds the kernel WireGuard interface, routes, nft table and
# ip_forward; its cache is saved as that user; the control socket answers root and refuses
# other users; with the userspace backend, wireguard-go runs as the same user with
# CAP_NET_ADMIN alone. (Contract: tests/vm/guest-systemd.sh.)
set -uo pipefail
source "$WGMESH_SRC/tests/vm/scenario-lib.sh"

iface=wglp
unit=wgmesh.service
state=/var/lib/wgmesh
private_state=/var/lib/private/wgmesh
secret=$SCENARIO_DIR/secret
old_peers=$SCENARIO_DIR/old-peers.json
peers=$SCENARIO_DIR/peers.json
network=10.98.0.0/24
port=51830  # not 51820: another scenario's interface may hold that
net_admin=0000000000001000
old_pid=

cleanup() {
    [ -n "$old_pid" ] && kill "$old_pid" 2>/dev/null && wait "$old_pid" 2>/dev/null
    [ -e /etc/systemd/system/$unit ] && "$WGMESH" service uninstall
    # Deleting the link also ends a wireguard-go left running by KillMode=process.
    "$WGMESH" cleanup --interface $iface >/dev/null 2>&1
    rm -rf $state $private_state /run/wgmesh /run/private/wgmesh
    [ -L /run/wireguard ] && rm -rf /run/wireguard /run/private/wireguard
}
trap cleanup EXIT
diagnose() {
    echo "--- state at the failure"
    ls -la /var/lib /var/lib/private $private_state 2>&1
    ip -d -br link
    ip route show proto 150
    wg show all
    nft list ruleset
    echo "--- the old daemon's log"
    cat "$SCENARIO_DIR/old.log"
    echo "--- the service's journal"
    journalctl --no-pager -u $unit | tail -n 60
}

field() { sed -n "s/^$2:[[:space:]]*//p" /proc/"$1"/status; }  # field PID NAME
owner() { stat -L -c %u "$1"; }
has_route() { ip route show proto 150 dev $iface | grep -q "^$network "; }
has_peer() { wg show $iface peers 2>/dev/null | grep -qxF "$peer_key"; }
# the process PID runs as uid $uid with CAP_NET_ADMIN alone (permitted, effective, bounding)
net_admin_only() {
    local pid=$1 what=$2
    [ "$(field "$pid" Uid | awk '{print $1 $2 $3 $4}')" = "$uid$uid$uid$uid" ] ||
        fail "$what runs as $(field "$pid" Uid), not uid $uid"
    for set in CapEff CapPrm CapBnd; do
        [ "$(field "$pid" $set)" = $net_admin ] || fail "$what: $set is $(field "$pid" $set)"
    done
    [ $((0x$(field "$pid" CapAmb) & ~0x1000)) = 0 ] || fail "$what: CapAmb $(field "$pid" CapAmb)"
}

step "an older install: wgmesh run as root leaves a root-owned state directory"
printf 'wgmesh-vm-least-privilege-secret-0123' >"$secret"
peer_key=$("$WGMESH" genkey | "$WGMESH" pubkey)
printf '[{"wg_pubkey": "%s", "endpoint": "192.0.2.7:51820", "routable_networks": ["%s"]}]\n' \
    "$peer_key" $network >"$old_peers"
echo '[]' >"$peers"
rm -rf $state $private_state
WGMESH_SECRET=$(cat "$secret") "$WGMESH" join --interface $iface --listen-port $port \
    --state-dir $state --peers-file "$old_peers" >"$SCENARIO_DIR/old.log" 2>&1 &
old_pid=$!
wait_for "the root daemon's route" 120 has_route
check "SIGTERM to the root daemon" kill -TERM $old_pid
wait $old_pid
old_pid=
check "the root daemon saved its cache" grep -qF "$peer_key" $state/$iface-peers.json
check "the old state is root's" test "$(owner $state)$(owner $state/$iface.key)$(owner $state/$iface-peers.json)" = 000
key_sum=$(sha256sum <$state/$iface.key)
node_key=$("$WGMESH" pubkey <$state/$iface.key)
check "cleanup of the old daemon's interface" "$WGMESH" cleanup --interface $iface
check "ip_forward off before the service starts" sysctl -q -w net.ipv4.ip_forward=0

step "service install: the daemon runs as its own user with CAP_NET_ADMIN alone"
check "service install" "$WGMESH" service install --interface $iface --listen-port $port \
    --peers-file "$peers" --secret-file "$secret" --log-level debug
check "active" systemctl is-active --quiet $unit
main_pid=$(systemctl show -P MainPID $unit)
[ "$main_pid" -gt 0 ] || fail "no main pid"
uid=$(field "$main_pid" Uid | awk '{print $1}')
[ "$uid" != 0 ] || fail "the daemon runs as root"
name=$(getent passwd "$uid" | cut -d: -f1)
echo "the daemon runs as uid $uid (${name:-no name service entry})"
[ -z "$name" ] || [ "$name" = wgmesh ] || fail "uid $uid is $name, not wgmesh"
net_admin_only "$main_pid" "the daemon"

step "the root-owned state directory was taken over, key and cache kept"
[ -L $state ] || fail "$state is not systemd's link to $private_state"
check "state dir owned by the service" test "$(owner $private_state)" = "$uid"
check "key owned by the service" test "$(owner $state/$iface.key)" = "$uid"
check "key unchanged" test "$(sha256sum <$state/$iface.key)" = "$key_sum"
check "state dir 0700" test "$(stat -L -c %a $state)" = 700

step "the kernel: WireGuard interface with the old key, the cached peer, routes, nft, ip_forward"
wait_for "the interface" 60 ip link show $iface
ip -d link show $iface | grep -qw wireguard || fail "$iface is not a kernel WireGuard link"
check "the node key is the old one" test "$(wg show $iface public-key)" = "$node_key"
wait_for "the peer restored from the root-written cache" 60 has_peer
wait_for "the peer's route" 60 has_route
wait_for "our nft table" 60 nft list table inet wgmesh-$iface
wait_for "ip_forward" 60 test "$(sysctl -n net.ipv4.ip_forward)" = 1
check "interface state recorded through the state dir's link (for wgmesh cleanup)" \
    test "$(owner $state/$iface.state)" = "$uid"

step "the control socket: root may talk to it, another user may not"
check "status as root" "$WGMESH" status --interface $iface
setpriv --reuid 65534 --regid 65534 --clear-groups "$WGMESH" status --interface $iface \
    >/dev/null 2>&1 && fail "uid 65534 reached the control socket"

step "stop saves the cache as the service's user"
check "stop" systemctl stop $unit
check "cache kept the peer" grep -qF "$peer_key" $state/$iface-peers.json
check "cache owned by the service" test "$(owner $state/$iface-peers.json)" = "$uid"
check "cache 0600" test "$(stat -L -c %a $state/$iface-peers.json)" = 600

step "the userspace backend: wireguard-go as the same user with CAP_NET_ADMIN alone"
command -v wireguard-go >/dev/null || fail "wireguard-go is not installed"
check "interface removed while stopped" ip link del $iface
check "service install --wireguard-backend userspace" "$WGMESH" service install \
    --interface $iface --listen-port $port --peers-file "$peers" --secret-file "$secret" \
    --wireguard-backend userspace
check "active" systemctl is-active --quiet $unit
main_pid=$(systemctl show -P MainPID $unit)
uid=$(field "$main_pid" Uid | awk '{print $1}')
wait_for "wireguard-go" 60 pgrep -f "wireguard-go $iface\$"
userspace_pid=$(pgrep -f "wireguard-go $iface\$" | head -n 1)
net_admin_only "$userspace_pid" wireguard-go
check "UAPI socket owned by the service" test "$(owner /run/wireguard/$iface.sock)" = "$uid"
check "the node key is still the old one" test "$(wg show $iface public-key)" = "$node_key"
wait_for "the cached peer over userspace WireGuard" 60 has_peer
wait_for "the peer's route over userspace WireGuard" 60 has_route
check "key unchanged after two starts" test "$(sha256sum <$state/$iface.key)" = "$key_sum"
echo "passed"
