#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need when it is missing, so that
# it works on a fresh Debian machine with the Rust toolchain: promtool (Debian's `prometheus`
# package), Neovim (the LSP client test), Node.js with npm, and the npm packages of tests/grafana (@grafana/schema and
# TypeScript, pinned by its package-lock.json); Chromium, unzip and Python's jsonschema for the
# incident bundle tests.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# promtool, and the prometheus server that tests/e2e.rs runs: one Debian package.
command -v promtool >/dev/null && command -v prometheus >/dev/null || apt_install prometheus
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
command -v chromium >/dev/null || apt_install chromium
command -v unzip >/dev/null || apt_install unzip
# the real LSP client of compiler/cli/tests/lsp_neovim.rs
command -v nvim >/dev/null || apt_install neovim
# the rate limits' Redis backend tests (runtime/tests/limiter_redis.rs) start their own server
command -v redis-server >/dev/null || apt_install redis-server
command -v amtool >/dev/null && command -v prometheus-alertmanager >/dev/null || apt_install prometheus-alertmanager
python3 -c 'import jsonschema' 2>/dev/null || apt_install python3 python3-jsonschema
if [ ! -x tests/grafana/node_modules/.bin/tsc ] || [ tests/grafana/package-lock.json -nt tests/grafana/node_modules/.package-lock.json ]; then
  (cd tests/grafana && npm ci --no-audit --no-fund --loglevel=error)
fi
# the VS Code grammar's test (compiler/lsp/tests/editor_grammar.rs): vscode-textmate and
# vscode-oniguruma, pinned by editors/vscode/package-lock.json
if [ ! -d editors/vscode/node_modules/vscode-textmate ] || [ editors/vscode/package-lock.json -nt editors/vscode/node_modules/.package-lock.json ]; then
  (cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error)
fi

# Property tests draw from a fixed seed here, so that a run is reproducible and a red run
# replays; explore new cases with another seed: PROPTEST_RNG_SEED=$RANDOM tests/run-all.sh
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261124}"
echo "property tests: PROPTEST_RNG_SEED=$PROPTEST_RNG_SEED"
cargo test --workspace --locked "$@"
