#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need when it is missing, so that
# it works on a fresh machine (Debian with the Rust toolchain).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests of later stages (promtool, Prometheus, Chromium, npm packages) add their installs here.

cargo test --workspace --locked "$@"
