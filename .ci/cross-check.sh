#!/usr/bin/env bash
# Cross-platform checks; run .ci/setup-cross.sh first.
#   1. cargo test for x86_64-pc-windows-gnu, executed under Wine (extra args
#      to this script are passed on to cargo test, e.g. `-- --nocapture`);
#   2. the .msi built from that build's jcdiag.exe, installed and removed under Wine
#      (.ci/msi-check.sh);
#   3. cargo clippy for aarch64-apple-darwin (type-check + lints only: there
#      is no Apple SDK or linker here, so nothing is linked or run) of what runs on a Mac:
#      the client crates with their unit tests, and the jcdiag binary.
set -euo pipefail

CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=cross-env.sh
source "$CI_DIR/cross-env.sh"
cd "$CI_DIR/.."

# Stop the Wine server on exit, so no daemon outlives the run.
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT

# insta finds a member crate's snapshots through the workspace root, which it asks `cargo
# metadata` for; a Windows test binary under Wine cannot run cargo, so name the root.
export INSTA_WORKSPACE_ROOT="$PWD"
echo "== cross-check: cargo test --target x86_64-pc-windows-gnu (under Wine)"
start=$SECONDS
# One Wine server for the whole test run, kept 30 s after its last client: the default one
# exits 3 s after, and a test binary that starts just as it exits fails with "wine client
# error: recvmsg: Connection reset by peer" before running anything (seen once in CI).
wineserver -p30
cargo test --workspace --target x86_64-pc-windows-gnu "$@"
wineserver -k >/dev/null 2>&1 || true
echo "== cross-check: windows tests took $((SECONDS - start))s"

echo "== cross-check: the .msi (wixl), installed and removed under Wine"
bash "$CI_DIR/msi-check.sh"

echo "== cross-check: cargo clippy --target aarch64-apple-darwin"
start=$SECONDS
cargo clippy --target aarch64-apple-darwin --all-targets \
    -p jcdiag-fs -p jcdiag-protocol -p jcdiag-profile -p jcdiag-scrub -p jcdiag-client -- -D warnings
cargo clippy --target aarch64-apple-darwin -p jcdiag --bins -- -D warnings
echo "== cross-check: darwin clippy took $((SECONDS - start))s"
