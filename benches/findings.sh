#!/usr/bin/env bash
# What findings add to a collection: `collect` of 64 MiB of realistic agent logs against the
# findings' own share (signature scan over the same scrubbed text, and the checks); prints the
# ratio (goal <= 0.10, issue #16). Built optimised (no LTO) in a temporary target folder, removed
# afterwards, so the workspace's target/ does not grow by a release tree.
# Usage: bash benches/findings.sh   (set CARGO_TARGET_DIR to keep the build between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    target=$CARGO_TARGET_DIR
else
    target=$(mktemp -d)
    trap 'rm -rf "$target"' EXIT
fi
export CARGO_TARGET_DIR=$target CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16
# An error-heavy log (36% ERROR/WARN lines), then a realistic one (15%).
cargo bench --quiet -p jcdiag-client --bench findings
cargo bench --quiet -p jcdiag-client --bench findings -- --realistic
