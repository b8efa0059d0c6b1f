#!/usr/bin/env bash
# The cold build of a minimal service crate outside the workspace: one #[pip_invariant]
# function over a one-invariant spec, depending on pip-runtime by path, with the checkout's
# Cargo.lock, in a fresh target directory. Prints the wall time and the peak RSS (GNU time).
# usage: tests/benches/cold-service-build.sh PIP_CHECKOUT OUTDIR
# Compare two commits paired: `git worktree add /tmp/a <old>; git worktree add /tmp/b <new>`,
# then run the script on each, alternating, and note the load beside each figure.
set -euo pipefail
pip=$(realpath "$1"); out=$2
rm -rf "$out"; mkdir -p "$out/src" "$out/specs"
cat > "$out/Cargo.toml" <<TOML
[package]
name = "minsvc"
version = "0.1.0"
edition = "2024"

[dependencies]
pip-runtime = { path = "$pip/runtime" }

[package.metadata.pip]
specs = "specs"
TOML
cat > "$out/specs/svc.pips" <<'PIPS'
spec svc version "1.0.0" {
  owner   = "team"
  runbook = "https://runbooks.example.com/svc"
}

invariant positive {
  severity     = P2
  requires     x > 0
  on_violation = deny
}
PIPS
cat > "$out/src/main.rs" <<'RS'
#[pip_runtime::pip_invariant("svc.positive")]
fn check(x: u32) -> u32 {
    x
}

fn main() {
    println!("{}", check(std::env::args().count() as u32));
}
RS
cp "$pip/Cargo.lock" "$out/Cargo.lock"
cd "$out"
cargo fetch -q 2>/dev/null || true
grep -m1 'model name' /proc/cpuinfo; echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" cargo build -q --offline 2>&1 | tail -3
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
ls target/debug/minsvc >/dev/null && ./target/debug/minsvc >/dev/null && echo built-and-ran
