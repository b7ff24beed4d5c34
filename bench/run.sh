#!/usr/bin/env bash
# Side-by-side benchmark: usercom-mock vs WireMock 3.13.2, the forwarder, the conformance gate.
# One command: `bash bench/run.sh` (or `just bench`); prints a Markdown table.
# Options are passed to bench/bench.py (`bash bench/run.sh --help`); `--save` also writes
# bench/RESULTS.md. Takes about 6–9 minutes on a 2-core machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

if [[ " $* " == *" --help "* || " $* " == *" -h "* ]]; then
  exec python3 "$here/bench.py" --help
fi

need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
if ((${#need_apt[@]})); then
  echo "bench: installing ${need_apt[*]} with apt-get" >&2
  if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get install -y "${need_apt[@]}" >&2 || {
    "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y "${need_apt[@]}" >&2
  }
fi

jar="$here/node_modules/wiremock/build/wiremock-standalone-3.13.2.jar"
if [[ ! -f "$jar" ]]; then
  echo "bench: installing wiremock@3.13.2 (npm) into bench/node_modules" >&2
  npm install --prefix "$here" --no-save --no-audit --no-fund wiremock@3.13.2 >&2
fi
[[ -f "$jar" ]] || { echo "bench: WireMock jar not found at $jar" >&2; exit 1; }

echo "bench: cargo build --release --workspace" >&2
cargo build --release --workspace >&2
echo "bench: cargo bench --bench mapping --no-run" >&2
cargo bench --bench mapping --no-run >&2

exec python3 "$here/bench.py" "$@"
