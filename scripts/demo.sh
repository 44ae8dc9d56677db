#!/usr/bin/env bash
# The main job, end to end on this machine: start a real jcdiag-intake on 127.0.0.1 (TLS with
# a CA made here), collect a real case bundle from this machine and submit it, then show the
# case as support sees it. Works without a JumpCloud agent: the bundle then says what is missing.
# The bundle stays in ./bundles and the intake's data in ./demo/intake (both git-ignored), so
# the case can be read after the demo; running it again adds a case. The server stops on exit.
# Usage: bash scripts/demo.sh   (needs cargo and openssl)
# For the demo's own test: JCDIAG_DEMO_BIN names a folder holding jcdiag and jcdiag-intake already
# built (no cargo build), JCDIAG_DEMO_DIR the folder that keeps bundles/ and demo/intake.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${JCDIAG_DEMO_BIN:-}" ]; then
    bin=$JCDIAG_DEMO_BIN
else
    cargo build --release --quiet -p jcdiag --bin jcdiag && cargo build --release --quiet -p jcdiag-intake
    bin=$PWD/target/release
fi
# shellcheck source=scripts/local-intake.sh
source scripts/local-intake.sh
cd "${JCDIAG_DEMO_DIR:-.}"
data=$PWD/demo/intake
work=$(mktemp -d)
intake_pid=
trap '[ -n "$intake_pid" ] && kill "$intake_pid" 2>/dev/null && wait "$intake_pid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$data" bundles
make_certs "$work"
# start_intake serves DIR/data: point it at the kept folder (rm -rf of $work removes the link only).
ln -s "$data" "$work/data"
start_intake "$work"
# The org's tier is the intake's: it computes each case's response target from it.
token=$("$bin/jcdiag-intake" token create --org demo --tier standard --data "$data")
echo "jcdiag-intake is listening on $intake_url"
"$bin/jcdiag" submit --yes --out bundles --state-dir "$work/state" \
    --endpoint "$intake_url" --token "$token" --ca-file "$work/ca.pem" \
    --description "Demo: the agent does not check in" --troubleshooting "Restarted the agent service" \
    --severity 2 --tier standard --email admin@example.com | tee "$work/submit.out"
case_id=$(sed -n 's/^Case \([^ ]*\) received.*/\1/p' "$work/submit.out")
# The bundle this run wrote: the newest in ./bundles (names are jcdiag-<host>-<time>.zip).
# shellcheck disable=SC2012
bundle=$(ls -t bundles/*.zip | head -n 1)
echo
echo "What support sees (jcdiag-intake case list):"
"$bin/jcdiag-intake" case list --data "$data"
echo
echo "The bundle: $PWD/$bundle"
echo "The intake's data is kept in $data. The case as support reads it:"
echo "  $bin/jcdiag-intake case show $case_id --data $data"
