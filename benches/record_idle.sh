#!/usr/bin/env bash
# Idle recording benchmark: CPU used by `jcdiag record` over 60 s while nothing is written to
# the agent logs (goal <= 1% of one core), with file events and with --poll.
#   - sysroot: a tree with jcagent.log, its nine rotated siblings, jcUpdate.log and a user's
#     screenshot folder (the layout jcdiag watches on a machine with the agent);
#   - live: the machine itself (no --sysroot): /var/log as it is, with its other logs churning.
# CPU is utime+stime from /proc/<pid>/stat, read 5 s after the start (start-up excluded) and
# 60 s later. Linux only (it reads /proc).
# Usage: bash benches/record_idle.sh [seconds]   (builds --release)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cargo build --release --quiet -p jcdiag --bin jcdiag
bin=$PWD/target/release/jcdiag
work=$(mktemp -d)
# jcdiag's own log and config stay in the run's folder, not the machine's (/var/lib/jcdiag as root).
export JCDIAG_STATE_DIR="$work/state" JCDIAG_CONFIG="$work/config.toml"
: >"$JCDIAG_CONFIG"
trap 'rm -rf "$work"' EXIT
tck=$(getconf CLK_TCK)

mkdir -p "$work/sys/var/log" "$work/sys/home/ana/Pictures/Screenshots" "$work/out"
for suffix in "" .1 .2 .3 .4 .5 .6 .7 .8 .9; do
    for i in $(seq 1 2000); do
        echo "2026/11/27 09:00:00 [4242] [INFO] heartbeat $i"
    done >"$work/sys/var/log/jcagent.log$suffix"
done
echo "2026/11/27 09:00:00 [4242] [INFO] update checked" >"$work/sys/var/log/jcUpdate.log"

cpu_ticks() { # utime + stime (fields 14 and 15; the command name may hold spaces)
    sed -e 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

measure() { # label, then jcdiag arguments
    local label=$1
    shift
    rm -rf "$work/out"/*
    "$bin" record --for "$((seconds + 10))s" --out "$work/out" --silent "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep 5
    local before after
    before=$(cpu_ticks "$pid")
    sleep "$seconds"
    after=$(cpu_ticks "$pid")
    wait "$pid"
    awk -v l="$label" -v t=$((after - before)) -v hz="$tck" -v s="$seconds" \
        'BEGIN { printf "%-28s %6.3f s CPU in %d s = %5.3f%% of one core (goal <= 1%%)\n", l, t / hz, s, 100 * t / hz / s }'
}

measure "sysroot, file events" --sysroot "$work/sys" --target-os linux
measure "sysroot, --poll" --sysroot "$work/sys" --target-os linux --poll
measure "live system, file events"
