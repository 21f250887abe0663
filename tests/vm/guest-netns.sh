#!/usr/bin/env bash
# guest-netns.sh BUILD_DIR SUITE[:GTEST_FILTER]...
#   Runs inside the VM (busybox PID 1, Debian's kernel with WireGuard): loads the modules the
#   netns suites need (nothing autoloads them without udev), checks that the kernel can create
#   WireGuard links (so `--wireguard-backend auto` picks the kernel), then runs each test binary
#   BUILD_DIR/tests/SUITE with the optional gtest filter. One line per test on stdout:
#     vm-result: PASS|FAIL|SKIP [LABEL:]SUITE/Test.Name [why]     (LABEL from $VM_LABEL)
#   and `vm-info: kernel-wireguard=yes|no`. A test of the kernel backend's real-kernel group
#   (WgKernelDeviceTest.*, KernelDeviceNetns.*) that skips counts as failed: here it must run.
#   A failing binary's whole output goes to stderr. Exit status: 0, or 1 when anything failed.
set -uo pipefail

build=${1:?usage: guest-netns.sh BUILD_DIR SUITE[:GTEST_FILTER]...}
shift
# A hung binary is stopped after this long, and its unfinished test counted as failed: under
# TCG the slowest suite takes a few minutes.
suite_timeout=${VM_SUITE_TIMEOUT:-1200}
must_run='^(WgKernelDeviceTest|KernelDeviceNetns)\.'
failed=0
label=${VM_LABEL:+$VM_LABEL:}

modprobe -a wireguard veth dummy bridge tun nf_tables nft_compat iptable_filter ip6table_filter ||
    echo "guest-netns: some modules did not load; the tests that need them will say so" >&2
# What udev's default rules would do: any user may open /dev/net/tun (wireguard-go run by an
# unprivileged user with CAP_NET_ADMIN needs it).
[ -c /dev/net/tun ] && chmod 0666 /dev/net/tun
probe=wgmt-vmprobe
kernel_wg=no
if ip netns add "$probe" 2>/dev/null; then
    ip -n "$probe" link add wgvmprobe type wireguard 2>/dev/null && kernel_wg=yes
    ip netns del "$probe"
fi
echo "vm-info: kernel-wireguard=$kernel_wg"

log=$(mktemp)
for spec in "$@"; do
    suite=${spec%%:*}
    filter='*'
    [ "$spec" != "$suite" ] && filter=${spec#*:}
    binary=$build/tests/$suite
    if [ ! -x "$binary" ]; then
        echo "vm-result: FAIL $label$suite (no test binary $binary)"
        failed=1
        continue
    fi
    echo "guest-netns: $suite --gtest_filter=$filter" >&2
    SECONDS=0
    timeout -k 10 "$suite_timeout" "$binary" --gtest_filter="$filter" --gtest_color=no >"$log" 2>&1
    status=$?
    # Per test: "[ RUN      ] Name", then "[       OK ] Name (N ms)", "[  FAILED  ] Name (N ms)" or
    # "[  SKIPPED ] Name (N ms)"; the summary repeats names without the time, and is ignored.
    results=$(awk -v suite="$label$suite" -v must="$must_run" '
        /^\[ RUN      \] / { running = $4; reason = ""; next }
        /^\[       OK \] .*\([0-9]+ ms\)$/ { print "PASS " suite "/" $4; running = ""; next }
        /^\[  FAILED  \] .*\([0-9]+ ms\)$/ { print "FAIL " suite "/" $4; running = ""; next }
        /^\[  SKIPPED \] .*\([0-9]+ ms\)$/ {
            if ($4 ~ must) print "FAIL " suite "/" $4 " (skipped, but a real-kernel test must run in the VM: " reason ")";
            else print "SKIP " suite "/" $4 " (" reason ")";
            running = ""; next
        }
        running != "" && !/^\[/ && !/: Skipped$/ && NF > 0 { reason = $0 }
        END { if (running != "") print "FAIL " suite "/" running " (did not finish: crashed or timed out)" }
    ' "$log")
    if [ -z "$results" ]; then
        results="FAIL $label$suite (no test ran; exit status $status)"
    fi
    echo "$results" | sed 's/^/vm-result: /'
    if [ $status -ne 0 ] || echo "$results" | grep -q '^FAIL'; then
        failed=1
        echo "guest-netns: $suite exited with $status after ${SECONDS}s; its output:" >&2
        cat "$log" >&2
    else
        echo "guest-netns: $suite passed in ${SECONDS}s" >&2
    fi
done
rm -f "$log"
exit $failed
