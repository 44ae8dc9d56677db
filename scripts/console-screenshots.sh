#!/usr/bin/env bash
# Takes docs/console-queue.png and docs/console-case.png from the real console: a real
# jcdiag-intake with a few uploaded cases, headless Chromium (apt-get install chromium
# chromium-driver). The tests never write into the tree; this script does, on purpose.
# Usage: bash scripts/console-screenshots.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p jcdiag-intake --example console_screenshots -- "${1:-docs}"
