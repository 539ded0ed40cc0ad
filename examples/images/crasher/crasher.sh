#!/bin/sh
# Print a line, wait CRASH_AFTER seconds (fractions allowed), exit with EXIT_CODE.
# SIGTERM ends it at once (exit 0), so deleting a crashing pod never waits out its grace period.
CRASH_AFTER="${CRASH_AFTER:-1}"
EXIT_CODE="${EXIT_CODE:-1}"
trap 'echo "crasher: SIGTERM, exiting"; exit 0' TERM INT
echo "crasher: started as $(hostname); exiting with code $EXIT_CODE in ${CRASH_AFTER}s"
sleep "$CRASH_AFTER" &
wait $!
echo "crasher: exiting with code $EXIT_CODE"
exit "$EXIT_CODE"
