#!/usr/bin/env bash
# What findings add to a collection: `collect` of 64 MiB of realistic agent logs against the
# findings' own share (signature scan over the same scrubbed text, and the checks); prints the
# ratio (goal <= 0.10, issue #16). Built optimised (no LTO) in a temporary target folder, removed
# afterwards, so the workspace's target/ does not grow by a release tree.
# Usage: bash benches/findings.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
CARGO_TARGET_DIR=$target CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
    cargo bench --quiet -p jcdiag-client --bench findings
