#!/bin/sh
# jcdiag installer for macOS and Linux.
#
#   curl -fsSL https://<endpoint>/install.sh | sudo sh -s -- --case 01234567 --token <t>
#
# Installs (or reuses) jcdiag, verifies the binary's SHA-256 before anything runs it, then runs
# `jcdiag submit --yes` with the arguments given after `--`, attaching a fresh bundle to the
# case. Options of its own:
#   --no-run          install only; do not run jcdiag
# Environment:
#   JCDIAG_INSTALL_DIR    where to install (default /usr/local/bin as root, else ~/.local/bin)
#   JCDIAG_DOWNLOAD_URL   base of the releases tree: <base>/<version>/<target>/jcdiag[.sha256]
#                         and <base>/latest (default: <endpoint this script came from>/dl)
#   JCDIAG_VERSION        the version to install (default: the one the endpoint named when it
#                         served this script, else <base>/latest)
#   JCDIAG_TARGET         the Rust target triple (default: from uname)
#   JCDIAG_CA_FILE        a PEM CA to trust, for curl here and for jcdiag itself
#   HTTPS_PROXY           honoured by curl and by jcdiag
# Only https:// is fetched (http:// only from 127.0.0.1, localhost or [::1], for tests).
#
# Everything is inside functions and the only top-level command is the last line, inside
# braces: a download cut short anywhere is a syntax error and runs nothing.

# The endpoint fills these in when it serves the script (jcdiag-intake serve --releases).
served_base() {
    printf '%s' '@@JCDIAG_BASE_URL@@'
}

served_version() {
    printf '%s' '@@JCDIAG_VERSION@@'
}

say() {
    printf 'jcdiag-install: %s\n' "$*" >&2
}

die() {
    say "error: $*"
    exit 1
}

# A value the endpoint filled in, or nothing if this copy was not served by an endpoint.
filled() {
    case "$1" in
        *@@*) printf '' ;;
        *) printf '%s' "$1" ;;
    esac
}

# https://…, or http:// to a loopback host only. Prints curl's --proto value.
check_url() {
    case "$1" in
        https://*) printf '=https' ;;
        http://127.0.0.1/* | http://127.0.0.1:* | http://localhost/* | http://localhost:* | \
            http://\[::1\]/* | http://\[::1\]:*)
            printf '=http' ;;
        *) die "refusing to download from $1: only https:// (http:// only on 127.0.0.1, localhost or [::1])" ;;
    esac
}

# fetch URL FILE: downloads URL into FILE, failing on any HTTP error.
fetch() {
    proto=$(check_url "$1") || exit 1
    if command -v curl >/dev/null 2>&1; then
        if [ -n "${JCDIAG_CA_FILE:-}" ]; then
            curl -fsSL --proto "$proto" --proto-redir "$proto" --tlsv1.2 --retry 2 \
                --cacert "$JCDIAG_CA_FILE" -o "$2" "$1"
        else
            curl -fsSL --proto "$proto" --proto-redir "$proto" --tlsv1.2 --retry 2 \
                -o "$2" "$1"
        fi
    elif command -v wget >/dev/null 2>&1; then
        https_only=
        [ "$proto" = "=https" ] && https_only=--https-only
        if [ -n "${JCDIAG_CA_FILE:-}" ]; then
            wget -q ${https_only:+"$https_only"} --ca-certificate="$JCDIAG_CA_FILE" -O "$2" "$1"
        else
            wget -q ${https_only:+"$https_only"} -O "$2" "$1"
        fi
    else
        die "neither curl nor wget is installed"
    fi
}

# The Rust target triple of this machine.
detect_target() {
    if [ -n "${JCDIAG_TARGET:-}" ]; then
        printf '%s' "$JCDIAG_TARGET"
        return
    fi
    os=$(uname -s)
    arch=$(uname -m)
    case "$arch" in
        x86_64 | amd64) arch=x86_64 ;;
        aarch64 | arm64) arch=aarch64 ;;
        *) die "no jcdiag build for the $arch architecture" ;;
    esac
    case "$os" in
        Linux) printf '%s-unknown-linux-gnu' "$arch" ;;
        Darwin)
            # An x86_64 shell under Rosetta on Apple silicon: take the native build.
            if [ "$arch" = x86_64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null)" = 1 ]; then
                arch=aarch64
            fi
            printf '%s-apple-darwin' "$arch"
            ;;
        *) die "no jcdiag build for $os (macOS and Linux only; on Windows use install.ps1)" ;;
    esac
}

default_install_dir() {
    if [ -n "${JCDIAG_INSTALL_DIR:-}" ]; then
        printf '%s' "$JCDIAG_INSTALL_DIR"
    elif [ "$(id -u)" = 0 ]; then
        printf '/usr/local/bin'
    else
        [ -n "${HOME:-}" ] || die "HOME is not set: set JCDIAG_INSTALL_DIR"
        printf '%s/.local/bin' "$HOME"
    fi
}

# sha256_of FILE: the file's SHA-256 in lowercase hex.
sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    elif command -v openssl >/dev/null 2>&1; then
        openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
    else
        die "no sha256sum, shasum or openssl to verify the download with: not installing"
    fi
}

# is_version BIN VERSION: whether BIN runs and reports exactly that version.
is_version() {
    [ -x "$1" ] || return 1
    [ "$("$1" --version 2>/dev/null </dev/null)" = "jcdiag $2" ]
}

# install_binary BASE VERSION TARGET DIR: downloads, verifies and installs DIR/jcdiag.
install_binary() {
    work=$(mktemp -d 2>/dev/null) || die "cannot create a temporary folder"
    # Removed however this shell ends.
    trap 'rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
    url="$1/$2/$3/jcdiag"
    say "downloading $url"
    fetch "$url" "$work/jcdiag" || die "download of $url failed"
    fetch "$url.sha256" "$work/jcdiag.sha256" || die "download of $url.sha256 failed: not installing an unverified binary"
    expected=$(cut -d ' ' -f 1 <"$work/jcdiag.sha256" | tr 'A-F' 'a-f' | head -n 1)
    case "$expected" in
        *[!0-9a-f]* | '') die "$url.sha256 does not hold a SHA-256: not installing" ;;
    esac
    [ "${#expected}" -eq 64 ] || die "$url.sha256 does not hold a SHA-256: not installing"
    actual=$(sha256_of "$work/jcdiag")
    if [ "$actual" != "$expected" ]; then
        die "checksum mismatch for $url (expected $expected, got $actual): not installing"
    fi
    mkdir -p "$4" || die "cannot create $4"
    # Copy beside the destination (a temp folder may be mounted noexec), check it runs as the
    # expected version, then rename: never a half-written or wrong jcdiag in place.
    staged="$4/.jcdiag.$$"
    cp "$work/jcdiag" "$staged" || die "cannot write to $4"
    chmod 755 "$staged"
    if ! is_version "$staged" "$2"; then
        rm -f "$staged"
        die "the downloaded jcdiag does not run here or is not version $2: not installing"
    fi
    mv -f "$staged" "$4/jcdiag" || {
        rm -f "$staged"
        die "cannot install into $4"
    }
    say "installed $4/jcdiag ($2, sha256 $actual)"
}

main() {
    run=yes
    endpoint_given=no
    # Split our own options from jcdiag's. A token goes to jcdiag through its environment,
    # not its command line, where other users could read it.
    token=
    n=$#
    while [ "$n" -gt 0 ]; do
        arg=$1
        shift
        n=$((n - 1))
        case "$arg" in
            --no-run) run=no ;;
            --token)
                [ "$n" -gt 0 ] || die "--token needs a value"
                token=$1
                shift
                n=$((n - 1))
                ;;
            --token=*) token=${arg#--token=} ;;
            --endpoint | --endpoint=*)
                endpoint_given=yes
                set -- "$@" "$arg"
                ;;
            *) set -- "$@" "$arg" ;;
        esac
    done

    base=$(filled "$(served_base)")
    download=${JCDIAG_DOWNLOAD_URL:-}
    if [ -z "$download" ]; then
        [ -n "$base" ] || die "set JCDIAG_DOWNLOAD_URL: this copy of install.sh was not served by an endpoint"
        download="$base/dl"
    fi
    download=${download%/}
    check_url "$download/" >/dev/null || exit 1

    target=$(detect_target) || exit 1
    version=${JCDIAG_VERSION:-$(filled "$(served_version)")}
    if [ -z "$version" ]; then
        work_version=$(mktemp) || die "cannot create a temporary file"
        fetch "$download/latest" "$work_version" || {
            rm -f "$work_version"
            die "cannot learn the version to install from $download/latest: set JCDIAG_VERSION"
        }
        version=$(head -n 1 "$work_version" | tr -d ' \r')
        rm -f "$work_version"
    fi
    case "$version" in
        '' | [!0-9]* | *[!0-9A-Za-z.+-]* | *..*) die "not a version: '$version'" ;;
    esac

    dir=$(default_install_dir) || exit 1
    if is_version "$dir/jcdiag" "$version"; then
        say "reusing $dir/jcdiag ($version)"
    else
        install_binary "$download" "$version" "$target" "$dir"
    fi
    case ":${PATH:-}:" in
        *":$dir:"*) ;;
        *) say "note: $dir is not on PATH" ;;
    esac
    [ "$run" = yes ] || return 0

    if [ "$endpoint_given" = no ] && [ -z "${JCDIAG_ENDPOINT:-}" ] && [ -n "$base" ]; then
        set -- --endpoint "$base" "$@"
    fi
    if [ -n "$token" ]; then
        JCDIAG_TOKEN=$token
        export JCDIAG_TOKEN
    fi
    say "running jcdiag submit --yes"
    # stdin is this script when piped into sh: jcdiag must not read it.
    status=0
    "$dir/jcdiag" submit --yes "$@" </dev/null || status=$?
    exit "$status"
}

{ main "$@"; }
