#!/usr/bin/env bash
# The gate's strength: the share of cargo-mutants mutants of the forwarder that the conformance
# harness alone kills (never the forwarder's own unit tests).
#
#   bash bench/mutants.sh [catalogue|harness] [cargo-mutants options, e.g. --shard 0/4]
#
# catalogue: only the catalogue cases (what gates other forwarders: `usercom-conformance run`);
# harness:   the whole harness (catalogue + properties + snapshots).
# Files mutated: the forwarder's mapping, the applier and delivery (override with MUTANTS_FILES).
# Writes bench/mutants/<scope>/ (cargo-mutants' output) and prints a Markdown table: mutants,
# killed, survived, timeouts, unviable, and every survivor. Not in CI (hours for the full set);
# run in shards. Needs `cargo install cargo-mutants --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."
scope=${1:-harness}
shift || true
case "$scope" in
  catalogue) filter=(catalogue::) ;;
  harness) filter=() ;;
  *) echo "usage: bash bench/mutants.sh [catalogue|harness] [cargo-mutants options]" >&2; exit 2 ;;
esac
command -v cargo-mutants >/dev/null || { echo "cargo-mutants is missing: cargo install cargo-mutants --locked" >&2; exit 2; }
files=${MUTANTS_FILES:-"src/mapping.rs src/mapping/*.rs src/usercom/apply.rs src/delivery/*.rs"}
args=()
for f in $files; do args+=(--file "$f"); done
out="bench/mutants/$scope"
mkdir -p "$out"
# Exit code 2 = some mutants survived: that is the result, not a failure of the script.
cargo mutants "${args[@]}" --test-package usercom-conformance --baseline skip \
  --output "$out" "$@" -- --test harness "${filter[@]}" || [ $? -le 3 ]
python3 bench/mutants_table.py "$out/mutants.out/outcomes.json"
