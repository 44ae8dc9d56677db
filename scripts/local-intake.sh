# shellcheck shell=bash
# Helpers to run a real jcdiag-intake on 127.0.0.1 with TLS: sourced by scripts/demo.sh and
# benches/upload.sh. Needs openssl; `bin` must name the folder holding the release binaries.

# make_certs DIR: a CA (DIR/ca.pem) and a certificate for 127.0.0.1 (DIR/cert.pem, DIR/key.pem).
make_certs() {
    local dir=$1
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=jcdiag-local-ca \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$dir/key.pem" -out "$dir/req.pem" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/ext"
    openssl x509 -req -in "$dir/req.pem" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
        -extfile "$dir/ext" -out "$dir/cert.pem" 2>/dev/null
}

# start_intake DIR [serve args…]: serves from DIR/data with DIR's certificates; sets
# intake_pid and intake_url.
start_intake() {
    local dir=$1
    shift
    "$bin/jcdiag-intake" serve --listen 127.0.0.1:0 --data "$dir/data" \
        --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" "$@" >"$dir/serve.out" 2>"$dir/serve.err" &
    intake_pid=$!
    for _ in $(seq 100); do
        grep -q listening "$dir/serve.out" 2>/dev/null && break
        sleep 0.1
    done
    intake_url=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' "$dir/serve.out")
    [ -n "$intake_url" ] || { cat "$dir/serve.err" >&2; return 1; }
}
