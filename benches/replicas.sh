#!/usr/bin/env bash
# Replicas benchmark: two jcdiag-intake replicas on one PostgreSQL database and one S3 bucket,
# then N concurrent uploads of a 6 MiB bundle spread over both replicas, each a new case.
#   PostgreSQL: Debian's `postgresql`, run as the postgres user in a folder it owns.
#   S3: s3s-fs (cargo install s3s-fs@0.14.1 --locked --features binary), or any S3 server
#       already running: S3_ENDPOINT=http://127.0.0.1:3900 S3_BUCKET=… AWS_ACCESS_KEY_ID=…
#       AWS_SECRET_ACCESS_KEY=… (e.g. Garage: `cargo install garage`, see its quick start).
# The uploaders: JCDIAG_PROCS (default 20) of them are real `jcdiag submit` processes; the
# rest are driven by benches/tus_load.py, one Python process sending the same tus requests
# as jcdiag (case, creation, HEAD, one PATCH with Upload-Checksum, receipt) and retrying
# the same way (Retry-After on 503/429, backoff otherwise). 1,000 jcdiag processes do not
# fit a 2-core machine: each hashes and copies its bundle and runs its own TLS stack, and on
# 2 cores with debug binaries 120 of them starved each other past their 100 s delivery
# deadline before the replicas were even busy (jcdiag's own CPU, not the server, was the
# limit). The jcdiag processes run with --deadline 15m so they wait out the burst.
# Prints: cases arrived (each exactly once: cases == bundles == N, receipts == N), 503
# answers the replicas gave (each retried after Retry-After), peak RSS per replica (goal
# <= 256 MiB), and the time taken.
# Usage: bash benches/replicas.sh [uploads=1000] [size_mib=6] [max_concurrent_uploads=64]
#   BIN=target/debug uses debug binaries instead of building release ones.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
size_mib=${2:-6}
max_uploads=${3:-64}
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet --bin jcdiag --bin jcdiag-intake
    BIN=$PWD/target/release
fi
bin=$BIN
pg=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin | sort -V | tail -1)
work=$(mktemp -d)
pgdir=$(mktemp -d)
chown postgres "$pgdir"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for _ in $(seq 30); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 1 ] || break
        sleep 0.5
    done
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    runuser -u postgres -- "$pg/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true
    if [ -n "${KEEP:-}" ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
    rm -rf "$pgdir"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# shellcheck source=scripts/local-intake.sh
source scripts/local-intake.sh
make_certs "$work"

# PostgreSQL
password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$password" >"$pgdir/pw" && chown postgres "$pgdir/pw"
runuser -u postgres -- "$pg/initdb" -D "$pgdir/data" -U intake --pwfile="$pgdir/pw" --auth=scram-sha-256 >/dev/null
pgport=$(free_port)
runuser -u postgres -- "$pg/pg_ctl" -D "$pgdir/data" -w -l "$pgdir/log" \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -k $pgdir -c max_connections=100" start >/dev/null
PGPASSWORD=$password "$pg/createdb" -h 127.0.0.1 -p "$pgport" -U intake jcdiag
export JCDIAG_INTAKE_DATABASE=postgres://intake@127.0.0.1:$pgport/jcdiag
export JCDIAG_INTAKE_DATABASE_PASSWORD=$password

# S3
if [ -z "${S3_ENDPOINT:-}" ]; then
    s3port=$(free_port)
    export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret
    S3_BUCKET=jcdiag
    mkdir -p "$work/s3/$S3_BUCKET"
    s3s-fs --host 127.0.0.1 --port "$s3port" --access-key bench --secret-key bench-secret "$work/s3" >/dev/null 2>&1 &
    pids+=($!)
    S3_ENDPOINT=http://127.0.0.1:$s3port
    sleep 1
fi
objects="s3://$S3_BUCKET?endpoint=$S3_ENDPOINT${S3_REGION:+&region=$S3_REGION}"

# Two replicas
urls=()
replica_pids=()
for r in 1 2; do
    mkdir -p "$work/r$r"
    cp "$work"/*.pem "$work/r$r/"
    start_intake "$work/r$r" --objects "$objects" --max-concurrent-uploads "$max_uploads" --max-open-uploads-per-org $((n + 10)) \
        --max-connections $((n / 2 + 64))
    pids+=("$intake_pid")
    replica_pids+=("$intake_pid")
    urls+=("$intake_url")
done
token=$("$bin/jcdiag-intake" token create --org bench --tier premium --data "$work/r1")

# One bundle-shaped zip; every submit is a new case (its own outbox id).
mkdir "$work/b"
head -c $((size_mib * 1024 * 1024 - 4096)) /dev/urandom >"$work/b/logs.bin"
python3 -c "import json; print(json.dumps({'schema':'jcdiag.case/1','form':{'description':'bench'},'tier':'premium','severity':{'level':2},'response_due':None}))" >"$work/b/case.json"
(cd "$work/b" && zip -q -0 "$work/bundle.zip" case.json logs.bin)

procs=${JCDIAG_PROCS:-20}
[ "$procs" -le "$n" ] || procs=$n
start=$(date +%s)
submits=()
for i in $(seq "$procs"); do
    url=${urls[$((i % 2))]}
    "$bin/jcdiag" submit "$work/bundle.zip" --endpoint "$url" --token "$token" --ca-file "$work/ca.pem" \
        --state-dir "$work/state/$i" --deadline 15m --silent >"$work/submit.$i.out" 2>&1 &
    submits+=($!)
done
light=$((n - procs))
light_status=0
python3 benches/tus_load.py --urls "$(IFS=,; echo "${urls[*]}")" --token "$token" --ca "$work/ca.pem" \
    --bundle "$work/bundle.zip" --case "$work/b/case.json" --count "$light" --first "$procs" \
    >"$work/light.out" || light_status=$?
failed=0
first_failure=
for i in "${!submits[@]}"; do
    if ! wait "${submits[$i]}"; then
        failed=$((failed + 1))
        [ -n "$first_failure" ] || first_failure=$(tail -3 "$work/submit.$((i + 1)).out")
    fi
done
elapsed=$(($(date +%s) - start))

cases=$("$bin/jcdiag-intake" case list --json --data "$work/r1" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(len(c), sum(len(x["bundles"]) for x in c), sum(len(x["bundles"]) == 1 for x in c))')
echo "uploads: $n x ${size_mib} MiB over 2 replicas in ${elapsed}s ($procs jcdiag processes, $light by tus_load.py)"
echo "jcdiag runs failed: $failed; tus_load.py (exit $light_status): $(cat "$work/light.out")"
echo "cases, bundles, cases with exactly one bundle: $cases (want $n $n $n)"
[ -z "$first_failure" ] || echo "first failed jcdiag run said: $first_failure"
echo "503 overloaded answers given: $(cat "$work"/r*/serve.err | grep -c 'PATCH refused: overloaded' || true)"
for r in 0 1; do
    echo "replica $((r + 1)) peak RSS: $(awk '/VmHWM/ {print int($2 / 1024) " MiB"}' "/proc/${replica_pids[$r]}/status") (goal <= 256 MiB)"
done
