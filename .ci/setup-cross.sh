#!/usr/bin/env bash
# Idempotent setup for the cross-platform checks (.ci/cross-check.sh):
#   - mingw-w64 + Wine to build and run the x86_64-pc-windows-gnu tests,
#   - clang/llvm-ar to compile ring's C code when type-checking aarch64-apple-darwin
#     (the client crates only: nothing there needs a full Darwin libc),
#   - the rustup targets and clippy/rustfmt,
#   - a quiet Wine prefix with a ProcessPrng DLL (Debian's Wine 8 lacks it).
# Exit 0: ready. Anything else fails the run: a loud "CROSS CHECK CANNOT RUN: <why>" line says
# what could not be fetched (a skipped check is a failed check).
set -euo pipefail

CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

skip() {
    echo "********************************************************************"
    echo "CROSS CHECK CANNOT RUN: $*"
    echo "********************************************************************"
    exit 10
}

# --- apt packages: only touch apt when a tool is missing (apt-get update once).
missing=()
for tool in x86_64-w64-mingw32-gcc wine clang llvm-ar; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
# Debian's `wine` launcher needs the 64-bit loader from the wine64 package.
[[ -x /usr/lib/wine/wine64 ]] || command -v wine64 >/dev/null || missing+=(wine64)
if ((${#missing[@]})); then
    echo "setup-cross: missing ${missing[*]}; installing from apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || skip "apt-get update failed (needed for: ${missing[*]})"
    apt-get install -y -qq gcc-mingw-w64-x86-64 wine wine64 clang llvm \
        || skip "apt-get install of mingw/wine/clang/llvm failed"
fi

# --- rustup targets and components (no-ops when already present).
rustup target add x86_64-pc-windows-gnu aarch64-apple-darwin \
    || skip "rustup target add x86_64-pc-windows-gnu aarch64-apple-darwin failed"
rustup component add clippy rustfmt || skip "rustup component add clippy rustfmt failed"

# Same WINEPREFIX/WINEDEBUG/CC/CFLAGS as the checks themselves.
# shellcheck source-path=SCRIPTDIR source=cross-env.sh
source "$CI_DIR/cross-env.sh"

# --- Wine prefix: create once, headless. DISPLAY unset so no window/dialog
# can appear; mscoree/mshtml disabled so wineboot doesn't offer Mono/Gecko.
sys32="$WINEPREFIX/drive_c/windows/system32"
if [[ ! -f "$WINEPREFIX/system.reg" || ! -d "$sys32" ]]; then
    echo "setup-cross: creating Wine prefix $WINEPREFIX"
    start=$SECONDS
    env -u DISPLAY -u WAYLAND_DISPLAY WINEDLLOVERRIDES="mscoree,mshtml=" wineboot -i
    # (A "failed to open ...syswow64\rundll32.exe" line is harmless: no wine32.)
    wineserver -w # wineboot returns before the prefix is fully written
    echo "setup-cross: Wine prefix ready in $((SECONDS - start))s"
fi

# --- ProcessPrng DLL. Rust std >= 1.78 imports bcryptprimitives!ProcessPrng;
# Wine 8.0 has no bcryptprimitives.dll, so every test .exe exits with 53.
# A fresh Wine 8 prefix has no such file in system32, so ours is loaded as a
# native DLL. Newer Wines put a builtin stub there: we overwrite it and force
# "native" (registry here, WINEDLLOVERRIDES in wine-run) so ours always wins.
# --no-insert-timestamp: reproducible bytes, so a re-run can skip the install.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
x86_64-w64-mingw32-gcc -shared -O2 -s -Wall -Wextra -Werror -Wl,--no-insert-timestamp \
    -o "$tmp/bcryptprimitives.dll" "$CI_DIR/wine-prng/processprng.c" -ladvapi32
if ! cmp -s "$tmp/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll"; then
    install -m 0644 "$tmp/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll"
    env -u DISPLAY "$CI_DIR/wine-run" reg add 'HKCU\Software\Wine\DllOverrides' \
        /v bcryptprimitives /d native,builtin /f >/dev/null
    wineserver -w # flush the registry to disk before anyone else uses the prefix
    echo "setup-cross: installed ProcessPrng bcryptprimitives.dll into $sys32"
fi
echo "setup-cross: ready (WINEPREFIX=$WINEPREFIX)"
