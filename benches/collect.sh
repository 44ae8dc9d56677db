#!/usr/bin/env bash
# Collect benchmark, run side by side with a baseline in one run (numbers are ratios, so a
# noisy shared machine affects both sides alike):
#   1. `jcdiag collect` on ten 5 MB rotated logs of realistic jcagent.log lines versus
#      `zip -q -6` of the same files: wall-time ratio (goal <= 0.5, issue #12) and size ratio (goal <= 1.05).
#   2. `jcdiag collect` on a 4 GiB log with default caps: wall time (goal <= 1 s) and peak RSS
#      (goal <= 64 MiB). The 4 GiB file is sparse except for its last 16 MiB of real lines,
#      which is exactly what a reader that starts from the tail touches.
#   3. The stripped release size of jcdiag (goal <= 8 MiB).
# Usage: bash benches/collect.sh [runs]   (needs zip and GNU time; builds --release)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --quiet -p jcdiag --bin jcdiag
bin=$PWD/target/release/jcdiag
work=$(mktemp -d)
# jcdiag's own log and config stay in the run's folder, not the machine's (/var/lib/jcdiag as root).
export JCDIAG_STATE_DIR="$work/state" JCDIAG_CONFIG="$work/config.toml"
: >"$JCDIAG_CONFIG"
trap 'rm -rf "$work"' EXIT

# Realistic lines: varied levels, PIDs, messages, one secret-looking key=value now and then.
python3 - "$work" <<'EOF'
import os, random, sys
root = sys.argv[1]
random.seed(7)
messages = [
    "Sending heartbeat to agent.jumpcloud.com",
    "Received policy update for system 5f0c1a2b3c4d5e6f7a8b9c0d",
    "skipping update policies: policy conf bundle not valid",
    "User sync completed: 42 users, 3 groups",
    "Checking for agent updates (current version 0.154.0)",
    "token refresh succeeded",
    "Connection to agent.jumpcloud.com:443 established in 183ms",
    "Executing command 6123abc9f0e1d2c3b4a59687 as root",
    "Failed to read /etc/sudoers.d/jumpcloud-admins: permission denied",
    "Applying password policy to local account jdoe",
]
levels = ["INFO"] * 8 + ["WARN", "ERROR"]
logdir = os.path.join(root, "sys", "var", "log")
os.makedirs(logdir)
for n, suffix in enumerate(["", ".1", ".2", ".3", ".4", ".5", ".6", ".7", ".8", ".9"]):
    lines, size = [], 0
    while size < 5 * 1000 * 1000:
        line = "2026/11/%02d %02d:%02d:%02d [%d] [%s] %s\n" % (
            1 + n, random.randrange(24), random.randrange(60), random.randrange(60),
            random.randrange(1000, 60000), random.choice(levels), random.choice(messages))
        lines.append(line)
        size += len(line)
    with open(os.path.join(logdir, "jcagent.log" + suffix), "w") as f:
        f.writelines(lines)
EOF

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
jc_times=() zip_times=()
for ((i = 0; i < runs; i++)); do
    rm -rf "$work/out" "$work/base.zip" && mkdir "$work/out"
    t0=$(now); "$bin" collect --sysroot "$work/sys" --target-os linux --out "$work/out" -q >/dev/null; t1=$(now)
    (cd "$work/sys/var/log" && zip -q -6 "$work/base.zip" jcagent.log*); t2=$(now)
    jc_times+=("$(echo "$t1 - $t0" | bc)") zip_times+=("$(echo "$t2 - $t1" | bc)")
done
jc=$(printf '%s\n' "${jc_times[@]}" | median)
zp=$(printf '%s\n' "${zip_times[@]}" | median)
jc_size=$(stat -c %s "$work"/out/*.zip)
zip_size=$(stat -c %s "$work/base.zip")
echo "collect, ten 5 MB logs (median of $runs):"
printf '  jcdiag collect %.3f s, zip -q -6 %.3f s, wall-time ratio %.2f (goal <= 0.5)\n' "$jc" "$zp" "$(echo "$jc / $zp" | bc -l)"
printf '  jcdiag %d bytes, zip %d bytes, size ratio %.3f (goal <= 1.05)\n' "$jc_size" "$zip_size" "$(echo "$jc_size / $zip_size" | bc -l)"

# 4 GiB log: sparse head, 16 MiB of real lines at the end.
big=$work/big/var/log
mkdir -p "$big" "$work/out2"
truncate -s $((4 * 1024 * 1024 * 1024 - 16 * 1024 * 1024)) "$big/jcagent.log"
head -c $((16 * 1024 * 1024)) "$work/sys/var/log/jcagent.log.1" >/dev/null
for _ in 1 2 3 4; do head -c $((4 * 1024 * 1024)) "$work/sys/var/log/jcagent.log.1"; done >>"$big/jcagent.log"
size=$(stat -c %s "$big/jcagent.log")
/usr/bin/time -f '%e %M' -o "$work/time" "$bin" collect --sysroot "$work/big" --target-os linux --out "$work/out2" -q >/dev/null
read -r wall rss_kib <"$work/time"
printf 'collect, one %d-byte log, default caps: %.2f s wall (goal <= 1 s), peak RSS %.1f MiB (goal <= 64 MiB)\n' \
    "$size" "$wall" "$(echo "$rss_kib / 1024" | bc -l)"

printf 'stripped release size of jcdiag: %.2f MiB (goal <= 8 MiB)\n' "$(echo "$(stat -c %s "$bin") / 1048576" | bc -l)"
