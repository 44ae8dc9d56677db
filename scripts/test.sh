#!/usr/bin/env bash
# The test suite, with what it needs from outside cargo: the official tus server and client
# (npm) for the interop tests, and aiosmtpd (PyPI), the real SMTP server of the email tests.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix tests/interop --no-audit --no-fund
python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
cargo test "$@"
