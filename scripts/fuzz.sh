#!/usr/bin/env bash
# Runs every cargo-fuzz target of the workspace for a short while (default 30 s each).
# Usage: scripts/fuzz.sh [SECONDS]
# Only stable Rust exists on our machines; cargo-fuzz needs nightly flags, which RUSTC_BOOTSTRAP=1 unlocks.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
command -v cargo-fuzz >/dev/null || cargo install --locked -q cargo-fuzz
export RUSTC_BOOTSTRAP=1
for dir in crates/*/fuzz; do
  [ -f "$dir/Cargo.toml" ] || continue
  for target in $(cargo fuzz list --fuzz-dir "$dir"); do
    echo "fuzzing $dir:$target for ${seconds}s"
    cargo fuzz run --fuzz-dir "$dir" "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 | tail -n 3
    test "${PIPESTATUS[0]}" -eq 0
  done
done
