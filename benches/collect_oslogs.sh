#!/usr/bin/env bash
# Collect benchmark with the OS logs added (issue #14): the agent-log corpus of collect.sh (ten
# 5 MB rotated jcagent.log files) plus, in the same --sysroot, a 200 MB syslog, a 50 MB auth.log,
# dpkg and apt logs, and a real systemd journal of 200,000 entries (a quarter of them the agent's)
# written by systemd-journal-remote. Prints jcdiag collect's wall time, peak RSS and bundle
# size (median of the runs), and the same for the agent logs alone, for comparison.
# Usage: bash benches/collect_oslogs.sh [runs]   (needs GNU time, python3,
# /lib/systemd/systemd-journal-remote and journalctl; builds --release)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo build --release --quiet -p jcdiag --bin jcdiag
bin=$PWD/target/release/jcdiag
work=$(mktemp -d)
export JCDIAG_STATE_DIR="$work/state" JCDIAG_CONFIG="$work/config.toml"
: >"$JCDIAG_CONFIG"
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import os, random, sys, time
root = sys.argv[1]
random.seed(7)
log = lambda *p: os.path.join(root, "sys", *p)
os.makedirs(log("var", "log", "apt"))
messages = ["Sending heartbeat to agent.jumpcloud.com", "skipping update policies: policy conf bundle not valid",
            "User sync completed: 42 users, 3 groups", "token refresh succeeded"]
for n, suffix in enumerate(["", ".1", ".2", ".3", ".4", ".5", ".6", ".7", ".8", ".9"]):
    with open(log("var", "log", "jcagent.log" + suffix), "w") as f:
        size = 0
        while size < 5_000_000:
            line = "2026/11/%02d %02d:%02d:%02d [%d] [%s] %s\n" % (1 + n, random.randrange(24), random.randrange(60),
                random.randrange(60), random.randrange(1000, 60000), random.choice(["INFO"] * 8 + ["WARN", "ERROR"]),
                random.choice(messages))
            f.write(line); size += len(line)
now = time.time()
def syslog(name, total, progs):
    with open(log("var", "log", name), "w") as f:
        size, t = 0, now - 3 * 86400
        while size < total:
            t += 0.5
            line = "%s ws-0042 %s[%d]: %s\n" % (time.strftime("%b %e %H:%M:%S", time.localtime(t)), random.choice(progs),
                random.randrange(100, 9999), random.choice(messages + ["session opened for user root", "CRON job done"]))
            f.write(line); size += len(line)
syslog("syslog", 200_000_000, ["systemd", "CRON", "jumpcloud-agent", "kernel"])
syslog("auth.log", 50_000_000, ["sshd", "sudo", "CRON"])
for name in ["dpkg.log", "apt/history.log", "apt/term.log"]:
    with open(log("var", "log", name), "w") as f:
        for i in range(20000):
            f.write("2026-11-%02d 10:%02d:%02d status installed libfoo%d:amd64 1.%d\n" % (1 + i % 28, i % 60, i % 60, i, i))
with open(os.path.join(root, "journal.export"), "w") as f:
    for i in range(200_000):
        agent = i % 4 == 0
        f.write("__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=ws-0042\n"
                % (int((now - 86400 + i * 0.4) * 1e6), i + 1))
        if agent:
            f.write("_SYSTEMD_UNIT=jcagent.service\nSYSLOG_IDENTIFIER=jumpcloud-agent\nMESSAGE=%s\n\n" % random.choice(messages))
        else:
            f.write("_SYSTEMD_UNIT=cron.service\nSYSLOG_IDENTIFIER=CRON\nMESSAGE=(root) CMD (run-parts /etc/cron.hourly)\n\n")
PY
mkdir -p "$work/sys/var/log/journal"
/lib/systemd/systemd-journal-remote --output="$work/sys/var/log/journal/bench.journal" "$work/journal.export" 2>/dev/null
mkdir -p "$work/agent-only/var/log" && cp "$work"/sys/var/log/jcagent.log* "$work/agent-only/var/log/"
echo "corpus: $(du -sh --apparent-size "$work/sys" | cut -f1) in the sysroot ($(du -sh --apparent-size "$work/sys/var/log/journal" | cut -f1) of journal)"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bench() { # name sysroot
    local times=() rss=() size
    for ((i = 0; i < runs; i++)); do
        rm -rf "$work/out" && mkdir "$work/out"
        /usr/bin/time -f '%e %M' -o "$work/time" "$bin" collect --sysroot "$2" --target-os linux --out "$work/out" -q >/dev/null
        read -r wall kib <"$work/time"
        times+=("$wall") rss+=("$kib")
    done
    size=$(stat -c %s "$work"/out/*.zip)
    printf '%-34s %.2f s wall, peak RSS %.1f MiB, bundle %.1f MiB (median of %d)\n' "$1" \
        "$(printf '%s\n' "${times[@]}" | median)" "$(echo "$(printf '%s\n' "${rss[@]}" | median) / 1024" | bc -l)" \
        "$(echo "$size / 1048576" | bc -l)" "$runs"
}
bench "agent logs only:" "$work/agent-only"
bench "agent logs + OS logs + journal:" "$work/sys"
unzip -l "$work"/out/*.zip | awk '$4 ~ /^os-logs\// {printf "  %-40s %10d bytes\n", $4, $1}'
