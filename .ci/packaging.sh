#!/usr/bin/env bash
# CI: the Linux packages, built from the debug jcdiag that `cargo test` already made (no second
# fat-LTO build), then used as an admin would: the .deb is installed with dpkg -i, runs, runs a
# silent collect with no terminal, is upgraded (config kept), removed and purged; the .rpm's
# metadata, file list and config file are checked with rpm -qp. Run as root (CI is).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
fail() { echo "PACKAGING CHECK FAILED: $*" >&2; exit 1; }

if ! command -v rpm >/dev/null || ! command -v dpkg-deb >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq rpm dpkg-dev
fi
binary=target/debug/jcdiag
[[ -x "$binary" ]] || cargo build -p jcdiag --bin jcdiag
bash packaging/build.sh --fast --binary "$binary"
version=$("$binary" --version | cut -d ' ' -f 2)
deb=$(ls target/packaging/jcdiag_*.deb)
rpm=$(ls target/packaging/jcdiag-*.rpm)

echo "== .deb: contents"
contents=$(dpkg-deb -c "$deb")
for path in usr/bin/jcdiag usr/share/man/man1/jcdiag.1.gz \
    usr/share/bash-completion/completions/jcdiag usr/share/zsh/vendor-completions/_jcdiag \
    usr/share/fish/vendor_completions.d/jcdiag.fish etc/jcdiag/config.toml; do
    grep -Eq " (\./)?$path\$" <<<"$contents" || fail "$deb lacks $path"
done
grep -Eq '^-rw------- (0/0|root/root) .* (\./)?etc/jcdiag/config.toml$' <<<"$contents" \
    || fail "config.toml is not root-owned 0600 in the .deb"

echo "== .deb: install, run, silent collect"
dpkg -r jcdiag >/dev/null 2>&1 || true
dpkg -P jcdiag >/dev/null 2>&1 || true
dpkg -i "$deb"
[[ "$(jcdiag --version)" == "jcdiag $version" ]] || fail "jcdiag --version: $(jcdiag --version)"
[[ "$(stat -c '%a %U' /etc/jcdiag/config.toml)" == "600 root" ]] || fail "config.toml mode"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' jcdiag)
grep -q '/etc/jcdiag/config.toml' <<<"$conffiles" || fail "config.toml is not a conffile"
man -w jcdiag >/dev/null 2>&1 || [[ -f /usr/share/man/man1/jcdiag.1.gz ]] || fail "no man page"
jcdiag configure --endpoint https://support.example.com --token ci-token-not-real >/dev/null
grep -q '^endpoint = "https://support.example.com"$' /etc/jcdiag/config.toml || fail "configure"
[[ "$(stat -c '%a' /etc/jcdiag/config.toml)" == 600 ]] || fail "configure left the file readable"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/var/log" "$work/out"
for i in $(seq 1 2000); do echo "2026/11/27 10:00:00 [42] [INFO] heartbeat $i"; done \
    >"$work/root/var/log/jcagent.log"
# No terminal (setsid, stdin closed), config from the package's file only.
setsid jcdiag collect --silent --sysroot "$work/root" --target-os linux --out "$work/out" \
    --state-dir "$work/state" \
    </dev/null >"$work/result" 2>"$work/stderr" || fail "silent collect: $(cat "$work/result" "$work/stderr")"
if [[ $(wc -l <"$work/result") -ne 1 ]] || ! grep -q '^ok bundle=' "$work/result"; then
    fail "silent collect printed: $(cat "$work/result")"
fi
cat "$work/result"
grep -q "run finished exit_code=0" "$work/state/log/jcdiag.log" || fail "no record in jcdiag's log"
[[ "$(stat -c '%a' "$work/state/log/jcdiag.log")" == 600 ]] || fail "jcdiag's log is not owner-only"

echo "== .deb: upgrade keeps the config file, remove keeps it, purge removes it"
cargo-deb --manifest-path target/packaging/manifest/Cargo.toml --no-build --no-strip --fast \
    --deb-version "$version-2" --output "$work/" >/dev/null
dpkg -i "$work"/jcdiag_*.deb >/dev/null
grep -q 'ci-token-not-real' /etc/jcdiag/config.toml || fail "the upgrade replaced the config"
dpkg -r jcdiag >/dev/null
[[ ! -e /usr/bin/jcdiag ]] || fail "dpkg -r left /usr/bin/jcdiag"
[[ -f /etc/jcdiag/config.toml ]] || fail "dpkg -r removed the config file"
dpkg -P jcdiag >/dev/null
[[ ! -e /etc/jcdiag/config.toml ]] || fail "dpkg -P left the config file"

echo "== .rpm: metadata"
rpm -qip "$rpm"
[[ "$(rpm -qp --queryformat '%{NAME} %{VERSION}' "$rpm")" == "jcdiag $version" ]] || fail "rpm name/version"
files=$(rpm -qlp "$rpm")
for path in /usr/bin/jcdiag /usr/share/man/man1/jcdiag.1.gz \
    /usr/share/bash-completion/completions/jcdiag /etc/jcdiag/config.toml; do
    grep -qx "$path" <<<"$files" || fail "$rpm lacks $path"
done
[[ "$(rpm -qcp "$rpm")" == /etc/jcdiag/config.toml ]] || fail "rpm config files: $(rpm -qcp "$rpm")"
modes=$(rpm -qp --queryformat '[%{FILENAMES} %{FILEMODES:perms} %{FILEFLAGS:fflags}\n]' "$rpm")
grep -q '^/etc/jcdiag/config.toml -rw------- c' <<<"$modes" || fail "config.toml not 0600 %config"

echo "== sizes (debug build, stripped)"
ls -l "$deb" "$rpm"
echo "== packaging checks passed in $((SECONDS - start))s"
