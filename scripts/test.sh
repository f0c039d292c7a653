#!/usr/bin/env bash
# One command for the whole test suite: lint, types, and the tests on SQLite and (when reachable)
# on the PostgreSQL at 127.0.0.1:5432. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy"
mypy epolicy config
echo "==> import contracts"
lint-imports

echo "==> tests on SQLite"
EPOLICY_DATABASE_URL= pytest "$@"

PG_URL=${EPOLICY_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/epolicy}
if python - "$PG_URL" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1].rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable ({exc.__class__.__name__}); skipping the PostgreSQL run")
    sys.exit(1)
PY
then
  echo "==> tests on PostgreSQL ($PG_URL)"
  EPOLICY_DATABASE_URL="$PG_URL" pytest "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "CI expects PostgreSQL at 127.0.0.1:5432" >&2
  exit 1
fi
