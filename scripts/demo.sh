#!/usr/bin/env bash
# The main job, end to end on this machine: start a real jcdiag-intake on 127.0.0.1 (TLS with
# a CA made here), collect a real case bundle from this machine and submit it, then show the
# case as support sees it. Works without a JumpCloud agent: the bundle then says what is missing.
# Usage: bash scripts/demo.sh   (needs cargo and openssl)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin jcdiag --bin jcdiag-intake
bin=$PWD/target/release
# shellcheck source=scripts/local-intake.sh
source scripts/local-intake.sh
work=$(mktemp -d)
intake_pid=
trap '[ -n "$intake_pid" ] && kill "$intake_pid" 2>/dev/null; rm -rf "$work"' EXIT
make_certs "$work"
start_intake "$work"
token=$("$bin/jcdiag-intake" token create --org demo --data "$work/data")
echo "jcdiag-intake is listening on $intake_url"
mkdir -p bundles
"$bin/jcdiag" submit --yes --out bundles --state-dir "$work/state" \
    --endpoint "$intake_url" --token "$token" --ca-file "$work/ca.pem" \
    --description "Demo: the agent does not check in" --troubleshooting "Restarted the agent service" \
    --severity 2 --tier standard --email admin@example.com
echo
echo "What support sees (jcdiag-intake case list):"
"$bin/jcdiag-intake" case list --data "$work/data"
