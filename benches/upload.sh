#!/usr/bin/env bash
# Upload benchmark, side by side in one run against one jcdiag-intake over loopback TLS:
#   `jcdiag submit BUNDLE` (create the case, tus upload in 8 MiB checksummed chunks, receipt)
#   versus `curl` sending the same 200 MiB file in one tus PATCH to an upload created by hand.
# Prints the wall-time ratio (goal <= 1.2) and jcdiag's peak RSS (goal <= 64 MiB).
# The 100-concurrent-uploads figure comes from `cargo test --release -p jcdiag-intake --test it load:: -- --nocapture`.
# Usage: bash benches/upload.sh [size_mib]   (needs openssl, curl, zip, GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-200}
cargo build --release --quiet --bin jcdiag --bin jcdiag-intake
bin=$PWD/target/release
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# shellcheck source=scripts/local-intake.sh
source scripts/local-intake.sh
make_certs "$work"

# A bundle-shaped zip of incompressible data (stored, so the intake's ratio check is happy).
mkdir "$work/b"
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$work/b/logs.bin"
python3 -c "import json; print(json.dumps({'schema':'jcdiag.case/1','form':{'description':'bench'},'tier':'premium','severity':{'level':2},'response_due':None}))" >"$work/b/case.json"
(cd "$work/b" && zip -q -0 "$work/bundle.zip" case.json logs.bin)
sha=$(sha256sum "$work/bundle.zip" | cut -d' ' -f1)
size=$(stat -c %s "$work/bundle.zip")

start_intake "$work" --max-bundle 1GiB
server=$intake_pid
url=$intake_url
token=$("$bin/jcdiag-intake" token create --org bench --data "$work/data")

# jcdiag: the whole submit of a bundle made earlier.
/usr/bin/time -f '%e %M' -o "$work/jc.time" "$bin/jcdiag" submit "$work/bundle.zip" --endpoint "$url" --token "$token" \
    --ca-file "$work/ca.pem" --state-dir "$work/state" --silent >/dev/null
read -r jc_wall jc_rss <"$work/jc.time"

# curl: create the case and the upload by hand (not timed), then one PATCH of the whole file (timed).
auth="Authorization: Bearer $token"
upload_url=$(curl -sS --cacert "$work/ca.pem" -H "$auth" -H "Idempotency-Key: bench-curl" -H 'Content-Type: application/json' \
    -d "{\"case\": $(cat "$work/b/case.json"), \"bundle\": {\"sha256\": \"$sha\", \"size\": $size}}" "$url/v1/cases" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["upload_url"])')
location=$(curl -sS --cacert "$work/ca.pem" -H "$auth" -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $size" \
    -H "Upload-Metadata: sha256 $(printf %s "$sha" | base64 -w0)" -X POST -D - -o /dev/null "$upload_url" |
    sed -n 's/^[Ll]ocation: *\([^\r]*\).*/\1/p')
t0=$(date +%s.%N)
curl -sS --fail --cacert "$work/ca.pem" -H "$auth" -H 'Tus-Resumable: 1.0.0' -H 'Upload-Offset: 0' \
    -H 'Content-Type: application/offset+octet-stream' -X PATCH --data-binary "@$work/bundle.zip" "$location" -o /dev/null
t1=$(date +%s.%N)
curl_wall=$(echo "$t1 - $t0" | bc)

printf 'upload of a %d-byte bundle over loopback TLS:\n' "$size"
printf '  jcdiag submit %.2f s, curl single PATCH %.2f s, wall-time ratio %.2f (goal <= 1.2)\n' \
    "$jc_wall" "$curl_wall" "$(echo "$jc_wall / $curl_wall" | bc -l)"
printf '  jcdiag peak RSS %.1f MiB (goal <= 64 MiB)\n' "$(echo "$jc_rss / 1024" | bc -l)"
