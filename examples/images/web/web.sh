#!/bin/sh
# Serve "Hello from <hostname>" on $PORT (default 80) with busybox httpd, logging each request to
# stdout. A shell as PID 1 ignores SIGTERM unless it traps it, so trap it and stop at once.
PORT="${PORT:-80}"
host="$(hostname)"
printf 'Hello from %s\n' "$host" >/www/index.html
echo "web: serving http on port $PORT as $host"
trap 'echo "web: SIGTERM, stopping"; kill "$pid" 2>/dev/null; exit 0' TERM INT
# -v logs one line per request; the log goes to stderr, so send it to stdout with the rest.
httpd -f -v -p "$PORT" -h /www 2>&1 &
pid=$!
wait "$pid"
