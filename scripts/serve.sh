#!/usr/bin/env bash
# The web tier as it runs in production: static files collected, then gunicorn with several worker
# processes (static files served by WhiteNoise from the same processes). Settings come from the
# environment (docs/configuration.md; production: EPOLICY_ENV=production with PostgreSQL, Redis and S3,
# docs/operations.md "Serving"). Task workers and the scheduler run as their own services.
#   EPOLICY_BIND         where to listen (default 127.0.0.1:8000; behind the TLS-terminating proxy)
#   EPOLICY_WEB_WORKERS  worker processes (default 2 × cores + 1)
#   EPOLICY_WEB_THREADS  threads per worker (default 4: requests waiting on the database or a provider)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${EPOLICY_VENV:-.venv}
cores=$(nproc 2>/dev/null || echo 2)
export EPOLICY_BIND=${EPOLICY_BIND:-127.0.0.1:8000}
export EPOLICY_WEB_WORKERS=${EPOLICY_WEB_WORKERS:-$((2 * cores + 1))}
export EPOLICY_WEB_THREADS=${EPOLICY_WEB_THREADS:-4}
# run.sh has just collected them (EPOLICY_STATIC_COLLECTED=1); a release collects them here.
[ "${EPOLICY_STATIC_COLLECTED:-}" = 1 ] || "$VENV/bin/epolicy" collectstatic --no-input -v 0
exec "$VENV/bin/gunicorn" --config config/gunicorn.conf.py \
  --bind "$EPOLICY_BIND" --workers "$EPOLICY_WEB_WORKERS" --threads "$EPOLICY_WEB_THREADS" \
  config.wsgi:application
