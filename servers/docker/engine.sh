#!/usr/bin/env bash
# Makes sure a Docker engine answers: starts dockerd when none does, then waits until it is ready.
#
#   servers/docker/engine.sh        # exit 0: an engine answers (already running, or started now)
#
# The engine it starts is left running (CI jobs and later test runs reuse it), detached from the
# caller's session. It is started the way this project's machines need (see docs/docker.md):
# no bridge, no iptables, no masquerading, so the host's network is left as it was; containers
# use the host network (`--network host`). Its state lives in its own folders:
#   CONNECT_CONFORMANCE_DOCKER_ROOT  data root and log (default /var/lib/connect-conformance/docker)
#   CONNECT_CONFORMANCE_DOCKER_RUN   exec root and pid file (default /run/connect-conformance/docker)
#   DOCKER_HOST                      unix:///path of the socket (default unix:///var/run/docker.sock)
# Exit codes: 0 ready; 3 cannot start one (the reason on stderr, with the end of dockerd's log).
set -euo pipefail

root=${CONNECT_CONFORMANCE_DOCKER_ROOT:-/var/lib/connect-conformance/docker}
run=${CONNECT_CONFORMANCE_DOCKER_RUN:-/run/connect-conformance/docker}
timeout_s=${CONNECT_CONFORMANCE_DOCKER_TIMEOUT:-60}
host=${DOCKER_HOST:-unix:///var/run/docker.sock}

answers() {
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

fail() {
  echo "engine.sh: $*" >&2
  exit 3
}

if answers; then
  echo "engine.sh: a Docker engine answers at $host"
  exit 0
fi
case "$host" in
  unix://*) ;;
  *) fail "DOCKER_HOST=$host does not answer, and only a local engine (unix://) can be started here" ;;
esac
command -v dockerd >/dev/null || fail "dockerd is not installed: apt-get install docker.io"
command -v docker >/dev/null || fail "the docker client is not installed: apt-get install docker.io"
[ "$(id -u)" -eq 0 ] || fail "starting dockerd needs root; ask for an engine, or run this as root"

mkdir -p "$root/data" "$run/exec"
# One caller at a time (test workers start together): the others wait here, then find it answering.
exec 9>"$run/engine.lock"
flock 9
if answers; then
  echo "engine.sh: a Docker engine answers at $host"
  exit 0
fi
pidfile="$run/dockerd.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "engine.sh: dockerd $(cat "$pidfile") is starting; waiting for it" >&2
else
  rm -f "$pidfile" # left by a dockerd that is gone (it refuses to start while the file exists)
  log="$root/dockerd.log"
  # setsid: the engine outlives this script and the test session that called it.
  setsid dockerd \
    --bridge=none --iptables=false --ip-masq=false \
    --data-root "$root/data" --exec-root "$run/exec" --pidfile "$pidfile" \
    --host "$host" >"$log" 2>&1 </dev/null &
  echo "engine.sh: started dockerd (pid $!, log $log, data $root/data)" >&2
fi

deadline=$((SECONDS + timeout_s))
until answers; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    tail -n 20 "$root/dockerd.log" >&2 || true
    fail "dockerd did not answer within ${timeout_s} s (log: $root/dockerd.log)"
  fi
  sleep 0.2
done
echo "engine.sh: a Docker engine answers at $host"
