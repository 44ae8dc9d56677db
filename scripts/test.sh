#!/usr/bin/env bash
# The test suite, with what it needs from outside cargo: the official tus server and client
# (npm) for the interop tests, aiosmtpd (PyPI), the real SMTP server of the email tests, and
# Yelp's detect-secrets (PyPI), which checks that a bundle holds no provider credential.
# Both go into a virtual environment under target/ (ignored by git): Debian's system
# Python refuses `pip install` (externally-managed-environment), and PIP_REQUIRE_VIRTUALENV=1
# refuses it everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --prefix tests/interop --no-audit --no-fund

venv=target/test-venv
if ! "$venv/bin/python" -c 'import aiosmtpd, detect_secrets' 2>/dev/null; then
    # Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a separate package.
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        echo "scripts/test.sh: python3 cannot make a virtual environment (no ensurepip/venv)." >&2
        echo "  On Debian/Ubuntu: apt-get install python3-venv   (then run this script again)" >&2
        exit 1
    fi
    # --clear: a folder left half-made by an interrupted run is made again.
    python3 -m venv --clear "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check aiosmtpd detect-secrets
fi
# The email tests run this Python (aiosmtpd, and the `email` package that reads the drafts), and
# so does the detect-secrets test.
JCDIAG_TEST_PYTHON="$PWD/$venv/bin/python"
export JCDIAG_TEST_PYTHON

cargo test "$@"

# The intake suite again, with its metadata in PostgreSQL: one server per test binary, started
# by the tests as the `postgres` user (crates/testkit/src/postgres.rs).
if (($# == 0)); then
    if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        JCDIAG_TEST_METADATA=postgres cargo test -p jcdiag-intake --test it
        # And with uploads and bundles in S3 (s3s-fs, which .ci/run installs).
        if command -v s3s-fs >/dev/null || [[ -n "${JCDIAG_TEST_S3S_FS:-}" ]]; then
            JCDIAG_TEST_OBJECTS=s3 cargo test -p jcdiag-intake --test it
        else
            echo "scripts/test.sh: s3s-fs is not installed (cargo install s3s-fs@0.14.1 --locked --features binary): the intake suite did not run on S3" >&2
        fi
    else
        echo "scripts/test.sh: PostgreSQL is not installed (apt-get install postgresql): the intake suite did not run on it" >&2
    fi
fi
