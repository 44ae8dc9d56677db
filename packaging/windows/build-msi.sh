#!/usr/bin/env bash
# Builds target/packaging/jcdiag-<version>-x64.msi on Linux with wixl (Debian: wixl, msitools).
#
#   bash packaging/windows/build-msi.sh [--exe PATH]
#
# --exe PATH packages that jcdiag.exe (CI packages the x86_64-pc-windows-gnu debug build its
# Windows tests made); default target/x86_64-pc-windows-gnu/release/jcdiag.exe, built if
# missing (needs the mingw toolchain: .ci/setup-cross.sh).
#
# What wixl cannot express is patched into the tables afterwards with msibuild (same package):
#   - CustomAction WriteConfig gets msidbCustomActionTypeHideTarget (8192), so the command
#     line holding TOKEN is not written to an MSI log (wixl drops HideTarget="yes");
#   - ENDPOINT and TOKEN join SecureCustomProperties (wixl has no Secure="yes"), so they reach
#     the elevated server side in every kind of install.
set -euo pipefail
cd "$(dirname "$0")/../.."

exe=
while (($#)); do
    case "$1" in
        --exe) exe=$2; shift 2 ;;
        *) echo "usage: $0 [--exe PATH]" >&2; exit 2 ;;
    esac
done
if [[ -z "$exe" ]]; then
    exe=target/x86_64-pc-windows-gnu/release/jcdiag.exe
    [[ -f "$exe" ]] || cargo build --release -p jcdiag --bin jcdiag --target x86_64-pc-windows-gnu
fi
[[ -f "$exe" ]] || { echo "packaging: no $exe" >&2; exit 1; }
for tool in wixl msibuild; do
    command -v "$tool" >/dev/null || {
        echo "packaging: $tool missing: apt-get install wixl msitools" >&2
        exit 1
    }
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
out=target/packaging
stage=$out/windows
rm -rf "$stage"
mkdir -p "$stage"
cp "$exe" "$stage/jcdiag.exe"
if command -v x86_64-w64-mingw32-strip >/dev/null; then
    x86_64-w64-mingw32-strip --strip-all "$stage/jcdiag.exe"
fi
msi="$out/jcdiag-$version-x64.msi"
rm -f "$msi"
wixl -a x64 -D "Version=$version" -D "Exe=$stage/jcdiag.exe" -o "$msi" packaging/windows/jcdiag.wxs
# 11282 = 18 (exe from an installed file) + 1024 (deferred) + 2048 (no impersonation:
# LocalSystem) + 8192 (hide target).
msibuild "$msi" \
    -q "UPDATE CustomAction SET Type = 11282 WHERE Action = 'WriteConfig'" \
    -q "UPDATE Property SET Value = 'ENDPOINT;TOKEN;WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED' WHERE Property = 'SecureCustomProperties'"
echo "$msi"
