#!/usr/bin/env bash
# guest-systemd.sh BUILD_DIR [SCENARIO...]
#   Runs inside the VM booted with systemd as PID 1 (tests/vm/run-in-vm, VM_MODE=systemd): each
#   systemd scenario, tests/vm/systemd/NAME.sh (all of them when none is named), one after
#   another in the same boot, and prints `vm-result: PASS|FAIL|SKIP systemd/NAME [why]` for each
#   and `vm-info: systemd=yes|no`, `vm-info: kernel-wireguard=yes|no`. Each scenario's output
#   goes to stderr.
#
# The contract of a scenario script (add one as tests/vm/systemd/NAME.sh; it is picked up):
#   Given:  it runs as root under bash, working directory the source tree, with
#             WGMESH        the wgmesh under test: BUILD_DIR/tools/wgmesh installed as
#                           /usr/local/bin/wgmesh
#             WGMESH_BUILD  the build tree, WGMESH_SRC the source tree (both read-only)
#             SCENARIO_DIR  an empty scratch directory of its own, outside /tmp, /home and
#                           /root (the unit's sandbox hides those), readable by the service
#           and may `source "$WGMESH_SRC/tests/vm/scenario-lib.sh"` for step/check/wait_for.
#           No module is loaded beforehand (as on a router's fresh boot: the kernel loads
#           wireguard, nf_tables, veth when they are first asked for). The VM has nothing of
#           wgmesh installed and no network but loopback; namespaces it makes are its own.
#   Report: exit 0 passed, 77 skipped (the last line of its output says why), anything else
#           failed; its output (shown on failure) should name the step that failed.
#   Clean up: before it exits, also on failure (trap ... EXIT), it removes what it made:
#           `wgmesh service uninstall`, its processes, links and namespaces. The next scenario
#           runs in the same boot; a scenario that leaves wgmesh.service installed or a wgmesh
#           process running fails, and the runner removes them.
#   Time:   it waits on conditions (wait_for), never on fixed sleeps; it is stopped after
#           VM_SCENARIO_TIMEOUT seconds (default 600).
set -uo pipefail

build=${1:?usage: guest-systemd.sh BUILD_DIR [SCENARIO...]}
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
scenario_timeout=${VM_SCENARIO_TIMEOUT:-600}

if [ "$(cat /proc/1/comm)" = systemd ]; then
    echo "vm-info: systemd=yes"
else
    echo "vm-info: systemd=no"
    echo "vm-result: FAIL systemd (PID 1 is $(cat /proc/1/comm), not systemd)"
    exit 1
fi

# Installed where the README installs it: the unit refuses binaries under /home, /root and /tmp
# (the sandbox hides them), where a CI checkout may well be. The guest's writes are thrown away.
install -m 0755 "$build/tools/wgmesh" /usr/local/bin/wgmesh || {
    echo "vm-result: FAIL systemd (cannot install $build/tools/wgmesh in the guest)"
    exit 1
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for file in "$src"/tests/vm/systemd/*.sh; do
        name=${file##*/}
        names+=("${name%.sh}")
    done
fi

# What a scenario must not leave behind, removed so the next one starts clean.
leftovers() {
    local found=()
    [ -e /etc/systemd/system/wgmesh.service ] && found+=("wgmesh.service installed")
    pgrep -x wgmesh >/dev/null && found+=("wgmesh processes $(pgrep -x wgmesh | tr '\n' ' ')")
    echo "${found[*]}"
}
remove_leftovers() {
    [ -e /etc/systemd/system/wgmesh.service ] && /usr/local/bin/wgmesh service uninstall >/dev/null 2>&1
    pkill -KILL -x wgmesh
}

failed=0
log=$(mktemp)
for name in "${names[@]}"; do
    script=$src/tests/vm/systemd/$name.sh
    if [ ! -r "$script" ]; then
        echo "vm-result: FAIL systemd/$name (no scenario $script)"
        failed=1
        continue
    fi
    scratch=/srv/wgmesh-vm/$name
    rm -rf "$scratch"
    mkdir -p "$scratch"
    echo "guest-systemd: $name" >&2
    SECONDS=0
    (cd "$src" && WGMESH=/usr/local/bin/wgmesh WGMESH_BUILD=$build WGMESH_SRC=$src \
        SCENARIO_DIR=$scratch timeout -k 10 "$scenario_timeout" bash "$script") >"$log" 2>&1
    status=$?
    left=$(leftovers)
    if [ $status -eq 0 ] && [ -z "$left" ]; then
        # Its steps and what it measured, for the log.
        cat "$log" >&2
        echo "vm-result: PASS systemd/$name"
        echo "guest-systemd: $name passed in ${SECONDS}s" >&2
        continue
    fi
    if [ $status -eq 77 ] && [ -z "$left" ]; then
        echo "vm-result: SKIP systemd/$name ($(tail -n 1 "$log"))"
        continue
    fi
    why="exit status $status"
    [ $status -eq 124 ] && why="stopped after ${scenario_timeout}s"
    [ -n "$left" ] && why+="; left behind: $left"
    echo "vm-result: FAIL systemd/$name ($why)"
    echo "guest-systemd: $name failed after ${SECONDS}s; its output:" >&2
    cat "$log" >&2
    failed=1
    remove_leftovers
done
rm -f "$log"
# Probed only now: the scenarios start on a fresh boot, where nothing has loaded the module yet.
kernel_wg=no
if ip netns add wgmt-vmprobe 2>/dev/null; then
    ip -n wgmt-vmprobe link add wgvmprobe type wireguard 2>/dev/null && kernel_wg=yes
    ip netns del wgmt-vmprobe
fi
echo "vm-info: kernel-wireguard=$kernel_wg"
exit $failed
