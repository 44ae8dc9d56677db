#!/usr/bin/env bash
# The MDM path, timed: a silent run as root with no terminal (setsid, stdin closed, config
# only from a config file) on a tree holding the agent's full 50 MB of rotated logs
# (jcagent.log and .1 … .9, 5 MB each), as a JumpCloud Command would run it. Two runs:
#   1. jcdiag collect --silent                     (bundle only)
#   2. jcdiag submit --silent to a jcdiag-intake on 127.0.0.1 (collect, upload, receipt)
# Each must finish well inside the 120 s a JumpCloud Command gets (goal: under 30 s).
# Usage: bash benches/silent.sh [--binary PATH] [--intake PATH]
#   default binaries: target/release/jcdiag (built if missing), target/debug/jcdiag-intake
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/jcdiag
intake=target/debug/jcdiag-intake
while (($#)); do
    case "$1" in
        --binary) bin=$2; shift 2 ;;
        --intake) intake=$2; shift 2 ;;
        *) echo "usage: $0 [--binary PATH] [--intake PATH]" >&2; exit 2 ;;
    esac
done
[[ -x "$bin" ]] || cargo build --release --quiet -p jcdiag --bin jcdiag
[[ -x "$intake" ]] || cargo build --quiet --bin jcdiag-intake
[[ "$(id -u)" == 0 ]] || echo "note: not root; the run is timed all the same, but not elevated"
work=$(mktemp -d)
server=
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work/root" <<'PY'
import os, random, sys
root = sys.argv[1]
random.seed(11)
messages = [
    "Sending heartbeat to agent.jumpcloud.com",
    "Received policy update for system 5f0c1a2b3c4d5e6f7a8b9c0d",
    "skipping update policies: policy conf bundle not valid",
    "User sync completed: 42 users, 3 groups",
    "Connection to agent.jumpcloud.com:443 established in 183ms",
    "Executing command 6123abc9f0e1d2c3b4a59687 as root",
    "request failed: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
]
levels = ["INFO"] * 8 + ["WARN", "ERROR"]
logdir = os.path.join(root, "var", "log")
os.makedirs(logdir)
for n, suffix in enumerate(["", ".1", ".2", ".3", ".4", ".5", ".6", ".7", ".8", ".9"]):
    out, size, i = [], 0, 0
    while size < 5 * 1000 * 1000:
        line = "2026/11/%02d %02d:%02d:%02d [%d] [%s] %s\n" % (
            27 - n, (i // 3600) % 24, (i // 60) % 60, i % 60, random.randint(1000, 60000),
            random.choice(levels), random.choice(messages))
        out.append(line); size += len(line); i += 1
    with open(os.path.join(logdir, "jcagent.log" + suffix), "w") as f:
        f.write("".join(out))
    os.utime(os.path.join(logdir, "jcagent.log" + suffix), (1e9 + 86400 * (10 - n),) * 2)
os.makedirs(os.path.join(root, "opt", "jc"))
with open(os.path.join(root, "opt", "jc", "jcagent.conf"), "w") as f:
    f.write('{"agentServerHost":"agent.jumpcloud.com","systemKey":"5f0c1a2b3c4d5e6f7a8b9c0d","systemToken":"s3cr3t"}')
with open(os.path.join(root, "opt", "jc", "version.txt"), "w") as f:
    f.write("0.154.0\n")
PY
echo "tree: $(du -sh "$work/root/var/log" | cut -f 1) of logs in $(find "$work/root" -type f | wc -l) files"

cat >"$work/config.toml" <<'TOML'
tier = "standard"
severity = 3
email = "it@example.com"
TOML

# run NAME ARGS…: runs jcdiag like an MDM would and prints its one line and the wall time.
run() {
    local name=$1
    shift
    local start end
    start=$(date +%s.%N)
    env -i PATH=/usr/bin:/bin HOME="$work" JCDIAG_CONFIG="$work/config.toml" \
        JCDIAG_STATE_DIR="$work/state" ${JCDIAG_TOKEN:+JCDIAG_TOKEN="$JCDIAG_TOKEN"} \
        setsid "$bin" "$@" </dev/null >"$work/$name.out" 2>"$work/$name.err" || {
        echo "$name FAILED: $(cat "$work/$name.out" "$work/$name.err")"
        exit 1
    }
    end=$(date +%s.%N)
    printf '%-8s %6.2f s   %s\n' "$name" "$(echo "$end - $start" | bc)" "$(cat "$work/$name.out")"
    [[ $(wc -l <"$work/$name.out") -eq 1 ]] || { echo "$name printed more than one line"; exit 1; }
}

mkdir -p "$work/out"
run collect collect --silent --sysroot "$work/root" --target-os linux --out "$work/out" \
    --description "Agent stopped checking in"

"$intake" serve --listen 127.0.0.1:0 --data "$work/data" >"$work/server.out" 2>"$work/server.err" &
server=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/server.out")
token=$("$intake" token create --org bench --data "$work/data")
JCDIAG_TOKEN=$token run submit submit --silent --endpoint "$url" --sysroot "$work/root" \
    --target-os linux --description "Agent stopped checking in" --out "$work/out"
echo "jcdiag's log ($work/state/log/jcdiag.log):"
sed 's/^/  /' "$work/state/log/jcdiag.log"
