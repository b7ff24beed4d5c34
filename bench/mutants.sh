#!/usr/bin/env bash
# The gate's strength: the share of cargo-mutants mutants of the forwarder that the conformance
# harness alone kills (never the forwarder's own unit or integration tests).
#
#   bash bench/mutants.sh catalogue [cargo-mutants options]   # (a) the catalogue alone
#   bash bench/mutants.sh harness   [cargo-mutants options]   # (b) the whole harness
#   bash bench/mutants.sh table                               # both tables, from what ran
#
# catalogue: every mutant, tested by the catalogue runs against our forwarder only (in process
#            against both simulator modes, through its ingress, and in external mode:
#            `--test harness catalogue::whole_catalogue_passes`;
#            what gates other forwarders, `usercom-conformance run`). Run again with --iterate
#            after adding checks: only what was not caught is tested again.
# harness:   starts from the catalogue's results and tests, with --iterate, only the mutants the
#            catalogue did not kill, against the whole harness (catalogue, delivery contract,
#            restart, properties, snapshots, wrong forwarders): a mutant the catalogue kills is
#            killed by the harness too, so (b) = (a)'s kills + these.
# Files mutated: the forwarder's mapping, its applier and delivery (override with MUTANTS_FILES).
# MUTANTS_PART=name runs a part of the files into its own folder (bench/mutants/<scope>-<name>/),
# so a long run can be done in pieces; the table merges the scope's folder and all its parts.
# Output: bench/mutants/<scope>/mutants.out/ (cargo-mutants' own), and the tables on stdout;
# survivors' explanations come from bench/mutants-reasons.tsv.
#
# Builds with the `mutants` profile (Cargo.toml: no debug info, dependencies optimised, so one
# pass of the harness takes seconds, as in release, not minutes), and links with mold when it
# is installed; `--jobs 2` runs two mutants at once in copies of the tree. Not in CI
# (about an hour for the full set on two cores). Needs `cargo install cargo-mutants --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."
scope=${1:-}
shift || true
files=${MUTANTS_FILES:-"src/mapping.rs src/mapping/*.rs src/usercom/apply.rs src/delivery/*.rs"}
args=()
for f in $files; do args+=(--file "$f"); done

# The outcomes of a scope: its own folder, then its parts (bench/mutants/<scope>-*/).
outcomes_of() {
  local f
  for f in "bench/mutants/$1/mutants.out/outcomes.json" bench/mutants/"$1"-*/mutants.out/outcomes.json; do
    [ -f "$f" ] && echo "$f"
  done
  return 0
}

table() {
  local list
  list=$(mktemp)
  cargo mutants --list "${args[@]}" > "$list"
  for s in catalogue harness; do
    local runs=() kills=() f
    # The harness kills what the catalogue kills: its table starts from the catalogue's results,
    # and a catalogue kill stands even where an older harness run had the mutant missed.
    if [ "$s" = harness ]; then
      mapfile -t runs < <(outcomes_of catalogue)
      for f in "${runs[@]}"; do kills+=(--kills-from "$f"); done
    fi
    mapfile -t -O "${#runs[@]}" runs < <(outcomes_of "$s")
    [ ${#runs[@]} -gt 0 ] || continue
    echo "### $s"
    echo
    python3 bench/mutants_table.py --universe "$list" --reasons bench/mutants-reasons.tsv "${kills[@]}" "${runs[@]}"
    echo
  done
  rm -f "$list"
}

case "$scope" in
  catalogue)
    # MUTANTS_CATALOGUE=in-process: only the two in-process passes (default and strict
    # simulator). For mutants of the mapping and the applier this kills the same mutants as all
    # four passes (the ingress passes run the same mapping behind an HTTP hop) at half the cost.
    if [ "${MUTANTS_CATALOGUE:-all}" = in-process ]; then
      filter=(-- --exact catalogue::whole_catalogue_passes_in_process
        catalogue::whole_catalogue_passes_in_process_against_the_strict_simulator)
    else
      filter=(catalogue::whole_catalogue_passes)
    fi
    ;;
  harness) filter=() ;;
  table) table; exit 0 ;;
  *) echo "usage: bash bench/mutants.sh catalogue|harness|table [cargo-mutants options]" >&2; exit 2 ;;
esac
command -v cargo-mutants >/dev/null || { echo "cargo-mutants is missing: cargo install cargo-mutants --locked" >&2; exit 2; }
if command -v mold >/dev/null; then export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"; fi
unset CARGO_TARGET_DIR # each copy of the tree builds in its own target/
out="bench/mutants/$scope${MUTANTS_PART:+-$MUTANTS_PART}"
mkdir -p "$out"
catalogue_out="bench/mutants/catalogue${MUTANTS_PART:+-$MUTANTS_PART}"
if [ "$scope" = harness ] && [ ! -d "$out/mutants.out" ] && [ -d "$catalogue_out/mutants.out" ]; then
  # Start from the catalogue's results: --iterate then tests only what it did not kill.
  cp -r "$catalogue_out/mutants.out" "$out/"
  set -- --iterate "$@"
fi
# Exit code 2 = some mutants survived: that is the result, not a failure of the script.
# No baseline: cargo-mutants would test the unmutated tree with the mutated files' package (the
# forwarder's own tests), not the conformance harness. Instead every "caught" is checked below to
# have failed in a test, so a test command that cannot pass cannot count as a kill.
cargo mutants "${args[@]}" --test-package usercom-conformance --baseline skip --profile mutants \
  --output "$out" "$@" -- --test harness "${filter[@]}" || [ $? -le 3 ]
python3 bench/mutants_table.py --check-logs "$out/mutants.out/outcomes.json"
table
