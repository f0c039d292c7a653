#!/usr/bin/env bash
# One command to set up and run epolicy on its embedded default: SQLite, local storage, sandbox
# providers, demo data. Serves on http://127.0.0.1:8000 through gunicorn (several worker processes), with a
# background task worker and the scheduler.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
umask 077  # what run.sh makes in var/ (secrets, keys, personal data, mail) is readable by this user only
VAR=${EPOLICY_VAR_DIR:-var}
if [ -f "$VAR/epolicy.sqlite3" ] && [ ! -f "$VAR/secrets.json" ]; then
  # Made by a version whose development secrets were derived from the checkout's path: its personal
  # data and keys are readable by anyone who knows the path. Keep it aside and start afresh.
  aside="$VAR.derived-secrets-$(date +%Y%m%d%H%M%S)"
  echo "==> $VAR/ was made with derived development secrets; moved to $aside (demo data is recreated)"
  mv "$VAR" "$aside" && chmod 700 "$aside"
fi
export EPOLICY_TASK_BACKEND=${EPOLICY_TASK_BACKEND:-django_tasks_db.DatabaseBackend}
export EPOLICY_BIND=${EPOLICY_BIND:-127.0.0.1:8000}
# Links in SMS, e-mails, QR codes and the payment redirect use the site's address: on another port
# (EPOLICY_BIND=127.0.0.1:8002) they must name that port too.
export EPOLICY_SITE_URL=${EPOLICY_SITE_URL:-http://$EPOLICY_BIND}
case "$VAR" in /*) VAR_ABS=$VAR ;; *) VAR_ABS=$PWD/$VAR ;; esac
EP=.venv/bin/epolicy
$EP migrate --no-input -v 0
$EP pki_init
$EP seed_demo
echo "==> collecting static files (compressed copies; the first time takes a minute)"
$EP collectstatic --no-input -v 0
# The task worker's metrics (issuance) go where gunicorn's workers write theirs: /ops/metrics adds them up.
export PROMETHEUS_MULTIPROC_DIR="$VAR_ABS/prometheus" EPOLICY_METRICS_DIR_PREPARED=1
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
$EP db_worker --interval 1 >"$VAR_ABS/worker.log" 2>&1 &
worker=$!
$EP scheduler >"$VAR_ABS/scheduler.log" 2>&1 &
scheduler=$!
trap 'kill $worker $scheduler 2>/dev/null || true' EXIT
cat <<MSG

  epolicy is running (stop with Ctrl-C):
    staff console      $EPOLICY_SITE_URL/console/      (user: admin, password: see $VAR/demo-credentials.txt)
    applicant journey  the link printed above for a demo application (or approve one in the console)
    policy holders     $EPOLICY_SITE_URL/m/p/          (their motor policies and e-endorsements, by SMS code)
    WeChat (sandbox)   $EPOLICY_SITE_URL/wx/
    life servicing     $EPOLICY_SITE_URL/console/life/   (demo life policies, quotes, review queue)
    life self-service  $EPOLICY_SITE_URL/s/              (phone 13800138000; codes on the console's 沙箱短信 page;
                                                               bind a policy above with the life demo's name and ID number)
    policy query       $EPOLICY_SITE_URL/query/
    verification       $EPOLICY_SITE_URL/verify/
    API + OpenAPI      $EPOLICY_SITE_URL/api/v1/docs
    e-mails (file)     $VAR/mail/
    logs               $VAR/worker.log, $VAR/scheduler.log (the web server's on this terminal)

MSG
# The production web server (gunicorn, several processes; static files through WhiteNoise) on the
# embedded default. DEBUG is off: no traceback reaches a browser.
EPOLICY_STATIC_COLLECTED=1 bash scripts/serve.sh
