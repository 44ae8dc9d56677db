# shellcheck shell=bash
# Cross-compilation environment for jcdiag's CI. Meant to be *sourced*:
#     source .ci/cross-env.sh
# No `set -euo pipefail` here on purpose: options set in a sourced file leak
# into the caller's shell (an interactive shell with -e dies on the first
# failing command). The file is written to be safe under `set -euo pipefail`.

# Absolute path of .ci/, from this file's location (CI runs in a fresh clone
# in another folder, so nothing may be hard-coded to /work/main).
JCDIAG_CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export JCDIAG_CI_DIR

# --- Windows (x86_64-pc-windows-gnu): link with mingw, run tests under Wine.
export WINEPREFIX="${WINEPREFIX:-$HOME/.wine-jcdiag}"
export WINEDEBUG=-all # silence fixme spam and Debian's "wine32 is missing" hint
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# wine-run pins WINEPREFIX/WINEDEBUG/DLL overrides and passes the exit code on.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$JCDIAG_CI_DIR/wine-run"
# C code in deps (ring, sqlite) for the windows-gnu target.
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar

# --- macOS (aarch64-apple-darwin): type-check only (no Apple SDK/linker here).
# Build scripts still compile ring's C code, so use clang without the host's (glibc) headers:
# clang's own freestanding headers (stddef.h, stdint.h, ...), then the stand-ins in
# .ci/darwin-include (all ring needs). The client crates hold no other C code; the intake's
# SQLite is not type-checked for macOS (it is a server, built for Linux and Windows).
export CC_aarch64_apple_darwin=clang
export AR_aarch64_apple_darwin=llvm-ar
CFLAGS_aarch64_apple_darwin="-nostdinc -ffreestanding -isystem $(clang -print-resource-dir 2>/dev/null || true)/include -isystem $JCDIAG_CI_DIR/darwin-include"
export CFLAGS_aarch64_apple_darwin
