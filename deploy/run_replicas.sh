#!/usr/bin/env bash
# Try ragviz with N Streamlit replicas behind nginx on this machine (127.0.0.1 only).
#
#   deploy/run_replicas.sh 3                      # replicas on 8501..8503, nginx on 127.0.0.1:8080
#   deploy/run_replicas.sh 3 -- --server.disconnectedSessionTTL=30   # extra `streamlit run` options
#   deploy/run_replicas.sh --check 3              # write the nginx config and lint it (nginx -t), then exit
#
# Environment: RAGVIZ_PROXY_PORT (8080), RAGVIZ_REPLICA_PORT (first replica's port, 8501),
# RAGVIZ_MODELS_DIR (the folder every replica saves to, default ./models), RAGVIZ_RUN_DIR
# (nginx prefix, logs and pid files; default a new temporary folder, removed on exit),
# RAGVIZ_START_TIMEOUT (seconds to wait for health, 180), STREAMLIT_SERVER_COOKIE_SECRET
# (shared by all replicas, so an upload token from one is valid on another; random if unset).
# Other variables (RAGVIZ_MAX_RUNS, ...) reach every replica unchanged.
#
# Prints "ready: <url>" once nginx and every replica answer /_stcore/health, then waits. CTRL-C,
# SIGTERM or nginx exiting stops everything it started; a replica that dies leaves the others
# serving (nginx moves its browsers to them). nginx runs in the
# foreground of this script (daemon off) with its own prefix: no root, nothing under /etc or /var.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CHECK_ONLY=0
if [[ "${1:-}" == "--check" ]]; then CHECK_ONLY=1; shift; fi
N="${1:-}"
if ! [[ "$N" =~ ^[1-9][0-9]?$ ]]; then
  echo "usage: $0 [--check] N [-- streamlit options]   (N = number of replicas, 1..99)" >&2
  exit 2
fi
shift
if [[ "${1:-}" == "--" ]]; then shift; fi
EXTRA_ARGS=("$@")

PROXY_PORT="${RAGVIZ_PROXY_PORT:-8080}"
FIRST_PORT="${RAGVIZ_REPLICA_PORT:-8501}"
START_TIMEOUT="${RAGVIZ_START_TIMEOUT:-180}"
PYTHON="${PYTHON:-python3}"
NGINX="${NGINX:-nginx}"

if [[ -n "${RAGVIZ_RUN_DIR:-}" ]]; then
  RUN_DIR="$RAGVIZ_RUN_DIR"; KEEP_RUN_DIR=1; mkdir -p "$RUN_DIR"
else
  RUN_DIR="$(mktemp -d -t ragviz-replicas.XXXXXX)"; KEEP_RUN_DIR=0
fi
RUN_DIR="$(cd "$RUN_DIR" && pwd)"

# ---------------------------------------------------------------- nginx config in its own prefix
mkdir -p "$RUN_DIR/ragviz" "$RUN_DIR/logs" "$RUN_DIR/tmp"
cp "$ROOT/deploy/nginx/local/nginx.conf" "$RUN_DIR/nginx.conf"
cp "$ROOT/deploy/nginx/ragviz-http.conf" "$RUN_DIR/ragviz/ragviz-http.conf"
{
  echo "listen 127.0.0.1:$PROXY_PORT;"
  echo "# Local runs only: which replica answered (the load test reads it; keep it off public servers)."
  echo "add_header X-Ragviz-Replica \$upstream_addr always;"
} >"$RUN_DIR/ragviz/listen.conf"
: >"$RUN_DIR/ragviz/replicas.conf"
for ((k = 0; k < N; k++)); do
  echo "server 127.0.0.1:$((FIRST_PORT + k)) max_fails=0;" >>"$RUN_DIR/ragviz/replicas.conf"
done
NGINX_ARGS=(-p "$RUN_DIR/" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/logs/error.log")

if ((CHECK_ONLY)); then
  status=0
  "$NGINX" -t -q "${NGINX_ARGS[@]}" || status=$?
  ((KEEP_RUN_DIR)) || rm -rf "$RUN_DIR"
  if ((status == 0)); then echo "nginx config OK ($N replicas)"; fi
  exit "$status"
fi

# ---------------------------------------------------------------- start, watch, stop
export RAGVIZ_MODELS_DIR="${RAGVIZ_MODELS_DIR:-$ROOT/models}"
mkdir -p "$RAGVIZ_MODELS_DIR"
RAGVIZ_MODELS_DIR="$(cd "$RAGVIZ_MODELS_DIR" && pwd)"
# nginx runs on this machine: its X-Real-IP names the browser's machine (RAGVIZ_MAX_SESSIONS_PER_ADDRESS).
export RAGVIZ_TRUSTED_PROXIES="${RAGVIZ_TRUSTED_PROXIES:-127.0.0.1,::1}"
export STREAMLIT_SERVER_COOKIE_SECRET="${STREAMLIT_SERVER_COOKIE_SECRET:-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')}"
PIDS=()
cleanup() {
  trap - EXIT INT TERM
  local pid k
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((k = 0; k < 100; k++)); do  # up to 10 s for a clean stop
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ((KEEP_RUN_DIR)) || rm -rf "$RUN_DIR"
  echo "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for ((k = 0; k < N; k++)); do
  port=$((FIRST_PORT + k))
  (cd "$ROOT" && exec "$PYTHON" -m streamlit run app.py --server.port "$port" --server.address 127.0.0.1 \
     --server.headless true --browser.gatherUsageStats false --server.fileWatcherType none \
     "${EXTRA_ARGS[@]}") >"$RUN_DIR/logs/replica-$((k + 1)).log" 2>&1 &
  PIDS+=("$!")
  echo "$!" >"$RUN_DIR/replica-$((k + 1)).pid"
done
"$NGINX" "${NGINX_ARGS[@]}" -g 'daemon off;' &
NGINX_PID="$!"
PIDS+=("$NGINX_PID")

healthy() {  # one GET with a 2 s timeout; 0 when it answers 200
  "$PYTHON" - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/_stcore/health", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except OSError:
    sys.exit(1)
PY
}

deadline=$((SECONDS + START_TIMEOUT))
urls=("http://127.0.0.1:$PROXY_PORT")
for ((k = 0; k < N; k++)); do urls+=("http://127.0.0.1:$((FIRST_PORT + k))"); done
for url in "${urls[@]}"; do
  until healthy "$url"; do
    for pid in "${PIDS[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "a process exited while starting; logs in $RUN_DIR/logs:" >&2
        tail -n 20 "$RUN_DIR"/logs/*.log >&2 || true
        exit 1
      fi
    done
    if ((SECONDS > deadline)); then
      echo "$url did not answer /_stcore/health within $START_TIMEOUT s" >&2
      exit 1
    fi
    sleep 0.5
  done
done
echo "ready: http://127.0.0.1:$PROXY_PORT ($N replicas on ports $FIRST_PORT..$((FIRST_PORT + N - 1)), run dir $RUN_DIR)"

# Runs until CTRL-C / SIGTERM (the traps stop everything) or until nginx exits. A replica that
# dies is not fatal: nginx sends its browsers to the other replicas, which is the point.
wait "$NGINX_PID" || true
echo "nginx exited; stopping the replicas" >&2
exit 1
