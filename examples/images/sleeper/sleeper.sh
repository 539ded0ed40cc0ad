#!/bin/sh
# Sleep forever; exit 0 as soon as SIGTERM (or SIGINT) arrives. The sleep runs as a child so the
# shell, PID 1, can run its trap: a shell waiting on a foreground child would not.
trap 'echo "sleeper: SIGTERM, exiting"; exit 0' TERM INT
echo "sleeper: started as $(hostname)"
while :; do
	sleep 3600 &
	wait $!
done
