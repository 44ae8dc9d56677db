#!/usr/bin/env bash
# Fuzz runs of the zip check and the scrubber (issue #13): each a release-built mutation loop
# seeded with real bundles and the tests' hostile zips (crates/intake/examples/fuzz_inspect.rs)
# or real log text with planted secrets (crates/scrub/examples/fuzz_scrub.rs), for SECONDS
# (default 600) each. Prints executions and findings; a finding's input is kept in
# target/fuzz-findings/<target>/. Exits 1 if either found anything.
# Usage: bash benches/fuzz.sh [inspect|scrub|all] [SECONDS] [SEED]
# `cargo fuzz` needs a nightly toolchain; this needs only the project's own.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
seconds=${2:-600}
seed=${3:-11400714819323198485}
status=0

run() {
    local package=$1 example=$2 name=$3
    cargo build --release --quiet -p "$package" --example "$example"
    echo "=== $example: $seconds s, seed $seed"
    rm -rf "target/fuzz-findings/$name"
    "target/release/examples/$example" "$seconds" "$seed" "target/fuzz-findings/$name" || status=1
}

case $which in
inspect | all) run jcdiag-intake fuzz_inspect inspect ;;&
scrub | all) run jcdiag-scrub fuzz_scrub scrub ;;
inspect) ;;
*)
    echo "usage: bash benches/fuzz.sh [inspect|scrub|all] [SECONDS] [SEED]" >&2
    exit 2
    ;;
esac
exit $status
