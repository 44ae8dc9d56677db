#!/usr/bin/env bash
# Support console bench (issue #17): 10,000 cases in a store (50 orgs, every tier and
# severity, some overdue, answered or resolved, a third with a bundle and its findings), one
# case with a real bundle; the median of 20 server times (the `Server-Timing` the console
# sends: request in to answer out, network excluded) for the queue page (goal <= 100 ms) and a
# case page (goal <= 150 ms), after one warm-up request each.
# Usage: bash benches/console.sh [--release] [cases]
# Without --release it runs the debug build the tests use (slower; the goals hold there too).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
if [ "${1:-}" = "--release" ]; then
    profile=(--release)
    shift
fi
cargo run --quiet "${profile[@]}" -p jcdiag-intake --example console_bench -- "${1:-10000}"
