#!/usr/bin/env bash
# Property-based API test of the simulator against its own OpenAPI document, with schemathesis.
#
# Starts target/release/usercom-mock on 127.0.0.1:0 (USERCOM_MOCK_BIN overrides the binary), runs
# `schemathesis run` on GET /__admin/openapi.json with a bounded number of examples per operation
# and two checks: not_a_server_error (no 5xx, ever) and response_schema_conformance (every answer
# matches the document). Stops the simulator it started, and exits with schemathesis's status.
#
#   SCHEMATHESIS         the schemathesis binary (default: .venv/bin/schemathesis, then PATH)
#   SCHEMATHESIS_EXAMPLES examples per operation (default 10)
#   SCHEMATHESIS_SEED     random seed (default 1: the same run every time)
#   SIMULATOR_STDERR      file for the simulator's log (default: discarded)
# Reports (JUnit) go to target/schemathesis/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

bin="${USERCOM_MOCK_BIN:-target/release/usercom-mock}"
st="${SCHEMATHESIS:-}"
if [ -z "$st" ]; then
  if [ -x .venv/bin/schemathesis ]; then st=.venv/bin/schemathesis; else st=schemathesis; fi
fi
examples="${SCHEMATHESIS_EXAMPLES:-10}"
seed="${SCHEMATHESIS_SEED:-1}"
key="schemathesis-key"

if [ ! -x "$bin" ]; then
  echo "schemathesis.sh: no simulator binary at $bin (cargo build --release -p usercom-mock)" >&2
  exit 2
fi
if ! command -v "$st" >/dev/null 2>&1; then
  echo "schemathesis.sh: schemathesis not found (.venv/bin/pip install schemathesis)" >&2
  exit 2
fi

out="$(mktemp)"
"$bin" --listen 127.0.0.1:0 --api-key "$key" --journal-capacity 1000 >"$out" 2>"${SIMULATOR_STDERR:-/dev/null}" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$out"
}
trap cleanup EXIT

url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^usercom-mock listening on //p' "$out" | head -n 1)"
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "schemathesis.sh: the simulator exited before listening" >&2
    exit 2
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "schemathesis.sh: the simulator did not print its URL" >&2
  exit 2
fi
echo "simulator: $url"

mkdir -p target/schemathesis
# Fault-injection rules are excluded: random rules (500s, connection resets) would break the run
# by design. Everything else, admin plane included, is exercised.
"$st" run "$url/__admin/openapi.json" \
  --url "$url" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "$examples" \
  --seed "$seed" \
  --workers 1 \
  --exclude-path-regex '^/__admin/faults' \
  --header "Authorization: Token $key" \
  --request-timeout 10 \
  --report junit --report-junit-path target/schemathesis/junit.xml
