"""Short Redis calls under the API workers' event loop (gevent, as ``python -m control`` patches
it): a reply that comes within ``REPLY_WAIT_MS`` is read without letting the other greenlets
run, so the request keeps its turn; a slower one lets them run while it waits. Run in a
process of its own, patched as an API worker is, against the tests' Redis."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis

from control import redis_store
from control.redis_store import RedisStore

REPO = Path(__file__).resolve().parents[2]

# A ticker greenlet counts its turns; it gets one whenever a call lets the loop run. "quick" is
# how many of 200 short calls let it run at all (one reply late by a hiccup of the machine
# gives it hundreds of turns, but counts once).
SCRIPT = """
from gevent import monkey
monkey.patch_all()
import json, sys
import gevent
from control.redis_store import RedisStore

store = RedisStore(sys.argv[1], prefix=sys.argv[2])
store.r.ping()  # connected before counting
turns = [0]

def tick():
    while True:
        turns[0] += 1
        gevent.sleep(0)

gevent.spawn(tick)
gevent.sleep(0)
quick = 0
for i in range(100):
    before = turns[0]
    store.r.set(sys.argv[2] + "k", i)
    quick += turns[0] != before
    before = turns[0]
    store.r.get(sys.argv[2] + "k")
    quick += turns[0] != before
# A script that keeps Redis busy for 100 ms: its reply comes well after the wait.
busy = "local t = redis.call('TIME'); local s = t[1] * 1e6 + t[2]; " \\
       "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - s > 100000; return 1"
before = turns[0]
answer = store.r.eval(busy, 0)
slow = turns[0] - before
print(json.dumps({"quick": quick, "slow": slow, "answer": answer}))
"""


def run_patched(redis_url: str, key_prefix: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, redis_url, key_prefix],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_quick_reply_keeps_the_turn_and_a_slow_one_gives_it_up(
    redis_url: str, key_prefix: str
) -> None:
    result = run_patched(redis_url, key_prefix)
    # 200 calls: had each waited as gevent's sockets do, each would have let the ticker run.
    # A few replies may come late on a busy machine; most come within the wait.
    assert result["quick"] < 50, result
    # The 100 ms script: the process did not stop for it, the ticker ran meanwhile.
    assert result["slow"] > 10, result
    assert result["answer"] == 1


def test_without_gevent_the_connections_keep_plain_sockets(store: RedisStore) -> None:
    """The controller process runs threads, unpatched: its sockets stay the standard ones."""
    store.r.ping()
    conn = store._pool.get_connection()
    try:
        assert type(conn).__name__ == "_BriskConnection"
        assert not isinstance(conn._sock, redis_store._BriskSocket)
    finally:
        store._pool.release(conn)


def test_brisk_connections_for_tcp_and_unix_sockets_not_tls() -> None:
    assert redis_store._brisk("redis://127.0.0.1:6379/0") == {
        "connection_class": redis_store._BriskConnection
    }
    assert redis_store._brisk("unix:///run/tinykube-redis/redis.sock?db=0") == {
        "connection_class": redis_store._BriskUnixConnection
    }
    assert redis_store._brisk("rediss://redis:6380/0") == {}
    assert issubclass(redis_store._BriskUnixConnection, redis.UnixDomainSocketConnection)
