# Everyday recipes. CI calls the same commands (see .ci/run).
# `just` is optional: every recipe is one plain command you can copy.

# List the recipes (plain `just` starts nothing).
default:
    @just --list

# The main job: simulator + Segment-compatible ingress in one process.
dev *ARGS:
    cargo run --release -- dev {{ARGS}}

# The simulator alone.
mock *ARGS:
    cargo run --release -p usercom-mock -- {{ARGS}}

# The whole test suite (the README's test command).
test:
    cargo test --workspace --release

# Format check and lints, as CI runs them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Regenerate fixture snapshots, both simulator modes (review the diff before committing).
snap:
    cargo run --release -p usercom-conformance -- snapshot
    cargo run --release -p usercom-conformance -- snapshot --strict

# Side-by-side benchmark; prints a Markdown table.
bench:
    bash bench/run.sh

# Everything CI does.
ci:
    bash .ci/run
