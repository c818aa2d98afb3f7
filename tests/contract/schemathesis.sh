#!/usr/bin/env bash
# Runs Schemathesis (pinned) against the real server: a fresh database with the demo practice,
# signed in as its practice admin (password + TOTP), `--checks all`, a bounded number of examples
# per operation and a time limit. Excluded from the main run: only the operations that would end
# its own session (logout; a password change and the TOTP checks, whose wrong guesses lock the
# account after five — which then answers every later case 401 and hides the rest of the API);
# sign-in runs on its own afterwards, for the same reason.
#
#   tests/contract/schemathesis.sh [EXAMPLES]
#
# Each phase runs once (no time budget to spend) in Schemathesis' deterministic mode, so a
# finding is reproducible with the same command. Prints Schemathesis' summary (operations, test
# cases, failures) and exits non-zero on any finding; `.ci/run` runs it after the tests.
# Settings that name the rules a schema cannot state: tests/contract/schemathesis.toml.
set -euo pipefail
cd "$(dirname "$0")/../.."
EXAMPLES=${1:-100}
VENV=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q schemathesis==4.32.5
fi
cargo build -q -p praxis
PORT=${CONTRACT_PORT:-18181}
BASE="http://127.0.0.1:$PORT"
DB="praxis_contract_$(date +%s)"
ADMIN_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DATABASE_URL="${ADMIN_URL%/*}/$DB" BIND_ADDR="127.0.0.1:$PORT" LOGIN_RATE_PER_MINUTE=100000 \
  OPERATOR_API_KEY=contract-operator-key-0123456789abcdefgh \
  RUST_LOG=warn target/debug/praxis serve --demo > "target/contract-server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  psql "$ADMIN_URL" -qc "drop database if exists \"$DB\" with (force)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -sf "$BASE/readyz" >/dev/null && break
  sleep 0.5
done
PRACTICE=0d3e0000-0000-7000-8000-000000000001
TOKEN=$(curl -sf -X POST "$BASE/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"practice_id\":\"$PRACTICE\",\"email\":\"admin@demo.praxis.test\",\"password\":\"demo-password-2026\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# The demo's published TOTP secret (README, Quick start).
CODE=$(target/debug/praxis totp-code --secret OBZGC6DJOMWWIZLNN4WXI33UOAWWWZLZ)
curl -sf -X POST "$BASE/v1/auth/totp/verify" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' -d "{\"code\":\"$CODE\"}" >/dev/null
"$VENV/bin/schemathesis" --config-file tests/contract/schemathesis.toml run "$BASE/openapi.json" \
  -H "Authorization: Bearer $TOKEN" \
  --checks all \
  --max-examples "$EXAMPLES" \
  --generation-deterministic \
  --exclude-path /v1/auth/logout \
  --exclude-path /v1/auth/password \
  --exclude-path /v1/auth/totp/verify \
  --exclude-path /v1/auth/totp/confirm \
  --exclude-path /v1/auth/login \
  --no-color | tee target/schemathesis.log
status=${PIPESTATUS[0]}
# Sign-in last, on its own: its documented example is the demo admin, so the cases built from it
# (wrong passwords among them) lock that account after five, which would have ended the session
# of the main run and left every later operation answering 401.
"$VENV/bin/schemathesis" --config-file tests/contract/schemathesis.toml run "$BASE/openapi.json" \
  --checks all \
  --max-examples "$EXAMPLES" \
  --generation-deterministic \
  --include-path /v1/auth/login \
  --no-color | tee target/schemathesis-login.log
login_status=${PIPESTATUS[0]}
if [ "$login_status" -ne 0 ]; then status=$login_status; fi
# One closing line in the plain form CI reads: test cases passed and failed.
passed=$(grep -oE '[0-9]+ passed' target/schemathesis.log | tail -n1 | grep -oE '[0-9]+' || echo 0)
failed=$(grep -oE '[0-9]+ unique failures?' target/schemathesis.log | tail -n1 | grep -oE '^[0-9]+' || echo 0)
echo "schemathesis: ${passed} passed, ${failed} failed"
exit "$status"
