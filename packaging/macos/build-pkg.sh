#!/bin/bash
# Builds a signed, notarised macOS installer package of jcdiag. RUN ON A MAC: pkgbuild,
# productbuild, codesign, lipo and notarytool are Apple tools; nothing here runs on Linux, and
# this script has not been run by jcdiag's CI (see packaging/README.md).
#
#   DEVELOPER_ID_APP="Developer ID Application: Example Inc (TEAMID)" \
#   DEVELOPER_ID_INSTALLER="Developer ID Installer: Example Inc (TEAMID)" \
#   NOTARY_PROFILE=jcdiag-notary \
#   bash packaging/macos/build-pkg.sh
#
# Without the three variables it builds an unsigned package (fine for testing, refused by
# Gatekeeper and by most MDMs). NOTARY_PROFILE is a keychain profile made once with
#   xcrun notarytool store-credentials jcdiag-notary --apple-id … --team-id TEAMID
# The package installs /usr/local/bin/jcdiag (universal: arm64 + x86_64), its man page and zsh
# completions, and creates "/Library/Application Support/jcdiag" (0700 root) with a commented
# config.toml (0600) if none exists; `jcdiag configure --endpoint … --token …` fills it in.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ "$(uname -s)" == Darwin ]] || { echo "build-pkg.sh runs on macOS only" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
out=target/packaging/macos
rm -rf "$out"
mkdir -p "$out/root/usr/local/bin" "$out/root/usr/local/share/man/man1" \
    "$out/root/usr/local/share/zsh/site-functions" "$out/root/usr/local/share/jcdiag"

rustup target add aarch64-apple-darwin x86_64-apple-darwin
cargo build --release -p jcdiag --bin jcdiag --target aarch64-apple-darwin
cargo build --release -p jcdiag --bin jcdiag --target x86_64-apple-darwin
lipo -create -output "$out/root/usr/local/bin/jcdiag" \
    target/aarch64-apple-darwin/release/jcdiag target/x86_64-apple-darwin/release/jcdiag
bin="$out/root/usr/local/bin/jcdiag"
"$bin" man | gzip -9n >"$out/root/usr/local/share/man/man1/jcdiag.1.gz"
"$bin" completions zsh >"$out/root/usr/local/share/zsh/site-functions/_jcdiag"
cp packaging/config.toml "$out/root/usr/local/share/jcdiag/config.toml.example"

if [[ -n "${DEVELOPER_ID_APP:-}" ]]; then
    # Hardened runtime and a secure timestamp: both required for notarisation.
    codesign --force --options runtime --timestamp --identifier com.jcdiag.jcdiag \
        --sign "$DEVELOPER_ID_APP" "$bin"
fi

pkgbuild --root "$out/root" --scripts packaging/macos/scripts --identifier com.jcdiag.pkg \
    --version "$version" --install-location / "$out/jcdiag-component.pkg"
sign=()
[[ -n "${DEVELOPER_ID_INSTALLER:-}" ]] && sign=(--sign "$DEVELOPER_ID_INSTALLER")
productbuild --package "$out/jcdiag-component.pkg" "${sign[@]}" "$out/jcdiag-$version.pkg"

if [[ -n "${NOTARY_PROFILE:-}" ]]; then
    xcrun notarytool submit "$out/jcdiag-$version.pkg" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$out/jcdiag-$version.pkg"
    spctl --assess --type install --verbose "$out/jcdiag-$version.pkg"
fi
echo "$out/jcdiag-$version.pkg"
