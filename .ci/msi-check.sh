#!/usr/bin/env bash
# CI: the Windows installer. Builds the .msi with wixl from the x86_64-pc-windows-gnu jcdiag.exe
# that the Windows tests built (no release build), checks its tables and contents with msiinfo
# and msiextract, then installs it under wine with `msiexec /i … /qn ENDPOINT=… TOKEN=…`
# (config file written with the endpoint), and uninstalls it with `msiexec /x … /qn`.
# Run after .ci/setup-cross.sh (wine prefix) and the Windows tests (cross-check.sh calls it).
set -euo pipefail
CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=cross-env.sh
source "$CI_DIR/cross-env.sh"
cd "$CI_DIR/.."
start=$SECONDS
fail() { echo "MSI CHECK FAILED: $*" >&2; exit 1; }

if ! command -v wixl >/dev/null || ! command -v msiextract >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq wixl msitools
fi
exe=target/x86_64-pc-windows-gnu/debug/jcdiag.exe
[[ -f "$exe" ]] || cargo build -p jcdiag --bin jcdiag --target x86_64-pc-windows-gnu
msi=$(bash packaging/windows/build-msi.sh --exe "$exe" | tail -n 1)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

echo "== msi: tables and contents"
msiinfo suminfo "$msi"
# (Tables are read into variables first: `grep -q` in a pipeline would break it under pipefail.)
properties=$(msiinfo export "$msi" Property)
actions=$(msiinfo export "$msi" CustomAction)
directories=$(msiinfo export "$msi" Directory)
grep -q "^ProductVersion	$version" <<<"$properties" || fail "ProductVersion"
grep -q '^ALLUSERS	1' <<<"$properties" || fail "not per machine"
grep -q '^MsiHiddenProperties	TOKEN' <<<"$properties" || fail "TOKEN not hidden"
grep -q '^SecureCustomProperties	ENDPOINT;TOKEN;' <<<"$properties" || fail "not secure"
grep -q '^WriteConfig	11282	jcdiag.exe	configure ' <<<"$actions" \
    || fail "WriteConfig custom action: $actions"
grep -q 'ProgramFiles64Folder' <<<"$directories" || fail "not under Program Files"
work=$(mktemp -d)
trap 'rm -rf "$work"; wineserver -k >/dev/null 2>&1 || true' EXIT
msiextract -C "$work/x" "$msi" >/dev/null
find "$work/x" -type f -name jcdiag.exe | grep -q . || fail "no jcdiag.exe in the msi"

echo "== msi: install and uninstall under wine"
drive_c="$WINEPREFIX/drive_c"
config="$drive_c/ProgramData/jcdiag/config.toml"
installed="$drive_c/Program Files/jcdiag/jcdiag.exe"
rm -f "$config"
winmsi=$(winepath -w "$msi")
env -u DISPLAY -u WAYLAND_DISPLAY WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree,mshtml=" \
    wine msiexec /i "$winmsi" /qn ENDPOINT=https://support.example.com TOKEN=ci-token-not-real \
    || fail "msiexec /i exited $?"
wineserver -w
[[ -f "$installed" ]] || fail "not installed: $installed"
[[ -f "$config" ]] || fail "no $config"
grep -qx 'endpoint = "https://support.example.com"' "$config" || fail "config: $(cat "$config")"
grep -qx 'token = "ci-token-not-real"' "$config" || fail "config has no token"
env -u DISPLAY -u WAYLAND_DISPLAY WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree,mshtml=" \
    wine msiexec /x "$winmsi" /qn || fail "msiexec /x exited $?"
wineserver -w
[[ ! -e "$installed" ]] || fail "msiexec /x left $installed"
[[ -f "$config" ]] || fail "uninstalling removed the config file"
rm -f "$config"
ls -l "$msi"
echo "== msi checks passed in $((SECONDS - start))s"
