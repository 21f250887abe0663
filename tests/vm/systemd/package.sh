#!/usr/bin/env bash
# The Debian package under a real systemd: `dpkg -i` installs the template unit, and
# `systemctl enable --now wgmesh@IF` with /etc/wgmesh/IF.env brings up a kernel WireGuard node
# (its own user, the secret not in argv, the flags of WGMESH_ARGS applied); `dpkg -r` stops it
# and keeps the secret and the state; `dpkg -P` removes both. The package is the newest
# build/deb/wgmesh_*.deb of the source tree (tools/build-deb) or $WGMESH_DEB; without one the
# scenario is skipped. (Contract: tests/vm/guest-systemd.sh.)
set -uo pipefail
source "$WGMESH_SRC/tests/vm/scenario-lib.sh"

iface=wgpkg
unit=wgmesh@$iface.service
env_file=/etc/wgmesh/$iface.env
state=/var/lib/wgmesh
peers=$SCENARIO_DIR/peers.json
network=10.97.0.0/24
port=51840 # not 51820: another scenario's interface may hold that
secret=wgmesh-vm-package-secret-0123456789

deb=${WGMESH_DEB:-$(ls -1 "$WGMESH_SRC"/build/deb/wgmesh_*.deb 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$deb" ] || [ ! -r "$deb" ]; then
    echo "no package to test: run tools/build-deb (or set WGMESH_DEB)"
    exit 77
fi

cleanup() {
    systemctl stop "$unit" 2>/dev/null
    dpkg -P wgmesh >/dev/null 2>&1
    "$WGMESH" cleanup --interface $iface >/dev/null 2>&1
    rm -rf $state /var/lib/private/wgmesh /run/wgmesh /run/private/wgmesh
}
trap cleanup EXIT
diagnose() {
    echo "--- state at the failure"
    systemctl status --no-pager "$unit"
    ip -d -br link
    ip route show proto 150
    echo "--- the service's journal"
    journalctl --no-pager -u "$unit" | tail -n 60
}

has_route() { ip route show proto 150 dev $iface | grep -q "^$network "; }

step "dpkg -i $deb"
check "dpkg -i" dpkg -i "$deb"
for path in /usr/sbin/wgmesh /lib/systemd/system/wgmesh@.service \
    /etc/iproute2/rt_protos.d/wgmesh.conf /usr/share/man/man8/wgmesh.8.gz \
    /usr/share/bash-completion/completions/wgmesh; do
    check "the package installed $path" test -e $path
done
check "the packaged binary runs" /usr/sbin/wgmesh --version
check "/etc/wgmesh is 0711" test "$(stat -c %a /etc/wgmesh)" = 711
check "systemd parses the template" systemd-analyze verify /lib/systemd/system/wgmesh@.service

step "systemctl enable --now $unit with $env_file"
peer_key=$("$WGMESH" genkey | "$WGMESH" pubkey)
printf '[{"wg_pubkey": "%s", "endpoint": "192.0.2.9:51820", "routable_networks": ["%s"]}]\n' \
    "$peer_key" $network >"$peers"
chmod 0644 "$peers"
(
    umask 077
    printf 'WGMESH_SECRET=%s\nWGMESH_ARGS=--listen-port %s --peers-file %s\n' \
        $secret $port "$peers" >$env_file
)
check "enable --now" systemctl enable --now "$unit"
check "active" systemctl is-active --quiet "$unit"
main_pid=$(systemctl show -P MainPID "$unit")
[ "$main_pid" -gt 0 ] || fail "no main pid"
check "the packaged binary runs the node" test "$(readlink /proc/"$main_pid"/exe)" = /usr/sbin/wgmesh
[ "$(awk '/^Uid:/ {print $2}' /proc/"$main_pid"/status)" != 0 ] || fail "the daemon runs as root"
tr '\0' ' ' </proc/"$main_pid"/cmdline | grep -qF "$secret" && fail "the secret is in argv"
wait_for "the interface" 60 ip link show $iface
ip -d link show $iface | grep -qw wireguard || fail "$iface is not a kernel WireGuard link"
check "WGMESH_ARGS applied (--listen-port)" test "$(wg show $iface listen-port)" = $port
wait_for "the peers file's route (WGMESH_ARGS applied: --peers-file)" 60 has_route
check "the control socket answers" /usr/sbin/wgmesh status --interface $iface

step "dpkg -r stops the instance, keeps the secret and the state"
check "dpkg -r" dpkg -r wgmesh
systemctl is-active --quiet "$unit" && fail "$unit still active after dpkg -r"
pgrep -x wgmesh >/dev/null && fail "a wgmesh process outlived dpkg -r"
check "the secret kept" test -e $env_file
check "the state kept" test -e $state/$iface.key

step "dpkg -P removes the secret and the state"
check "dpkg -P" dpkg -P wgmesh
[ -e $env_file ] && fail "$env_file outlived the purge"
[ -e $state ] && fail "$state outlived the purge"
[ -e /var/lib/private/wgmesh ] && fail "/var/lib/private/wgmesh outlived the purge"
echo "passed"
