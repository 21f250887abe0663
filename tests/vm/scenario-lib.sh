# shellcheck shell=bash
# Helpers for the systemd scenarios (tests/vm/systemd/*.sh); sourced, not run.

# step TEXT: names what follows, so a failure's output says where it happened.
step() { echo "--- $*"; }

# fail TEXT: the scenario fails here (its EXIT trap still cleans up). A scenario may define
# diagnose() to print the state that explains a failure.
fail() {
    echo "FAILED: $*" >&2
    if declare -F diagnose >/dev/null; then
        diagnose >&2
    fi
    exit 1
}

# check TEXT CMD...: CMD must succeed now.
check() {
    local what=$1
    shift
    "$@" || fail "$what (command: $*)"
}

# wait_for TEXT SECONDS CMD...: retries CMD until it succeeds; fails after SECONDS. The bound
# is for a hang: under TCG (10x slower than a host) a working system stays far below it.
wait_for() {
    local what=$1 limit=$2
    shift 2
    local start=$SECONDS
    until "$@" >/dev/null 2>&1; do
        [ $((SECONDS - start)) -ge "$limit" ] && fail "$what: not within ${limit}s (command: $*)"
        sleep 0.2
    done
}
