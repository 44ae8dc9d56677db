#!/usr/bin/env bash
# The intake's test suite on Garage (issue #18): metadata in PostgreSQL (started by the tests),
# uploads and bundles in a single-node Garage on loopback, one fresh bucket per test intake
# (made through the S3 API: the key may create buckets). CI runs the same suite on s3s-fs,
# which builds in minutes; Garage is the production-grade target and takes longer to build.
#   Garage: `garage` on the PATH or $GARAGE; otherwise `cargo install garage@2.5.0 --locked`
#   into $GARAGE_ROOT (default ~/.cache/jcdiag-bench/garage), timed and kept for the next run.
#   PostgreSQL: Debian's `postgresql` (the tests run it as the postgres user).
# Prints Garage's install time (when it was built here), the suite's result and its time.
# With --replicas N it runs benches/replicas.sh on the same Garage instead: two replicas, one
# PostgreSQL, one bucket, N concurrent 6 MiB uploads.
# Usage: bash benches/garage.sh [test filter…]   (arguments go to the test binary)
#        bash benches/garage.sh --replicas [N=1000]
set -euo pipefail
cd "$(dirname "$0")/.."

garage=${GARAGE:-$(command -v garage || true)}
if [ -z "$garage" ]; then
    root=${GARAGE_ROOT:-$HOME/.cache/jcdiag-bench/garage}
    if [ ! -x "$root/bin/garage" ]; then
        echo "benches/garage.sh: building Garage (cargo install garage@2.5.0 --locked), about 12 min cold on 2 cores" >&2
        started=$SECONDS
        build=$(mktemp -d)
        CARGO_TARGET_DIR=$build cargo install garage@2.5.0 --locked --root "$root" --quiet
        rm -rf "$build"
        echo "Garage installed in $((SECONDS - started)) s"
    fi
    garage=$root/bin/garage
fi
"$garage" --version | head -1

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
chmod 700 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

s3port=$(free_port)
rpcport=$(free_port)
# Garage reads its secrets from files that only their owner may read.
hex 32 >"$work/rpc-secret"
chmod 600 "$work/rpc-secret"
cat >"$work/garage.toml" <<EOF
metadata_dir = "$work/meta"
data_dir = "$work/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpcport"
rpc_public_addr = "127.0.0.1:$rpcport"
rpc_secret_file = "$work/rpc-secret"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$s3port"
root_domain = ".s3.garage.localhost"
EOF
export GARAGE_CONFIG_FILE=$work/garage.toml
# The tests' key, from the environment only (never a command line another user could read).
GARAGE_DEFAULT_ACCESS_KEY=GK$(hex 12)
GARAGE_DEFAULT_SECRET_KEY=$(hex 32)
export GARAGE_DEFAULT_ACCESS_KEY GARAGE_DEFAULT_SECRET_KEY
"$garage" server --single-node --default-access-key >"$work/garage.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    if "$garage" key info "$GARAGE_DEFAULT_ACCESS_KEY" >/dev/null 2>&1; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/garage.log" >&2; exit 1; }
    sleep 0.2
done
"$garage" key allow --create-bucket "$GARAGE_DEFAULT_ACCESS_KEY" >/dev/null

if [ "${1:-}" = --replicas ]; then
    "$garage" bucket create jcdiag >/dev/null
    "$garage" bucket allow --read --write jcdiag --key "$GARAGE_DEFAULT_ACCESS_KEY" >/dev/null
    status=0
    S3_ENDPOINT=http://127.0.0.1:$s3port S3_BUCKET=jcdiag AWS_ACCESS_KEY_ID=$GARAGE_DEFAULT_ACCESS_KEY \
        AWS_SECRET_ACCESS_KEY=$GARAGE_DEFAULT_SECRET_KEY bash benches/replicas.sh "${2:-1000}" || status=$?
    echo "objects in the bucket: $("$garage" bucket info jcdiag | grep -i 'objects' | head -1 | tr -s ' ')"
    exit "$status"
fi

export JCDIAG_TEST_S3_ENDPOINT=http://127.0.0.1:$s3port
export JCDIAG_TEST_S3_ACCESS_KEY=$GARAGE_DEFAULT_ACCESS_KEY
export JCDIAG_TEST_S3_SECRET_KEY=$GARAGE_DEFAULT_SECRET_KEY
unset GARAGE_DEFAULT_ACCESS_KEY GARAGE_DEFAULT_SECRET_KEY
started=$SECONDS
status=0
JCDIAG_TEST_OBJECTS=s3 cargo test -p jcdiag-intake --test it -- "$@" 2>&1 | tee "$work/suite.log" || status=$?
result=$(grep -E '^test result:' "$work/suite.log" | tail -1)
echo "intake suite on Garage ($("$garage" --version | head -1 | cut -d' ' -f2)) + PostgreSQL: ${result:-no result} in $((SECONDS - started)) s"
buckets=$("$garage" bucket list 2>/dev/null | grep -c ":t[0-9a-f]\{32\}" || true)
echo "buckets the tests made in Garage: $buckets"
exit "$status"
