#!/usr/bin/env bash
# Size benchmark: the stripped release jcdiag against the goal (<= 8 MiB on x86_64 Linux), then
# its largest contributors by crate (`cargo bloat`, installed from crates.io if missing).
# Exits 1 when over the goal, so CI can run it.
# Usage: bash benches/size.sh [--no-bloat]
#
# The binary is built exactly as packaging/build.sh and benches/collect.sh build it (same
# command, same feature set: `-p jcdiag`, for without it cargo unifies features with every
# default member, and the intake's object_store then brings HTTP/2 into the client), so the figure is the shipped binary's and the three share one
# fat-LTO build. `cargo bloat` needs symbols, so it builds an unstripped twin in target/bloat:
# a second fat-LTO build (minutes), kept in its own folder so neither evicts the other.
set -euo pipefail
cd "$(dirname "$0")/.."
goal=$((8 * 1024 * 1024))

cargo build --release --quiet -p jcdiag --bin jcdiag
bin=target/release/jcdiag
size=$(wc -c <"$bin")
mib=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }')
echo "stripped release jcdiag ($(uname -m) $(uname -s)): $size bytes = $mib MiB (goal <= 8 MiB)"

if [[ ${1:-} != --no-bloat ]]; then
    command -v cargo-bloat >/dev/null || cargo install cargo-bloat --locked
    echo "largest contributors (unstripped twin; sizes are of .text):"
    CARGO_TARGET_DIR=target/bloat cargo bloat --release -p jcdiag --bin jcdiag --crates -n 20 2>/dev/null
fi

if ((size > goal)); then
    echo "over the goal by $((size - goal)) bytes" >&2
    exit 1
fi
