"""The Redis implementation of ``control.store.Store`` (the only module that imports ``redis``).

Layout under one key prefix (default ``tk:``):
  ``rev``                    global revision (INCR per write)
  ``o:<res>:<ns>:<name>``    hash {o: object JSON without resourceVersion, rv, uid}
  ``i:<res>`` / ``i:<res>:<ns>``  sets of ``ns/name`` (all / per namespace)
  ``n:<res>:<node>`` + ``nv:<res>``  pods-by-node index and each member's indexed node
  ``ev:<res>``               Stream of changes, entry id ``<rev>-0``, fields t (type), o (JSON),
                             p (the selectable fields before an update), k (``ns/name``)
Resources given a ``control.encryption`` transformer (secrets) hold ``k8s:enc:...`` ciphertext
in place of their JSON, in the object's hash and in its stream entries alike; they are
decrypted where they are read, and an update's ``p`` is left empty for them.
  ``cp:<res>``               highest revision trimmed from that stream (watch below it: 410)
  ``cl:<pool>``              hash of claimed values (a ClusterIP, a node port) -> holder
                             ``res/ns/name``; the holder's own hash keeps them in field ``c``
Every write is one Lua script, so an object never exists without its event or the reverse.
Every call has a bounded socket timeout and no retry after a timeout, so a frozen Redis answers
503 within ``timeout`` seconds; the stream reads have their own deadline (block + timeout). The
pools are bounded: a caller waits up to ``pool_wait`` for a connection, then gets 503 with
``Retry-After`` (a watch waits its turn instead), never redis-py's "Too many connections".
"""

from __future__ import annotations

import contextlib
import logging
import select
from collections.abc import Iterator, Sequence
from typing import Any

import gevent.socket
import redis
from gevent.monkey import get_original
from redis.backoff import ExponentialBackoff
from redis.connection import parse_url
from redis.retry import Retry

from common import errors, fastjson, processid
from control import encryption
from control.store import (
    Obj,
    Progress,
    WatchEvent,
    block_for,
    check_claims,
    claim_owner,
    node_of,
    object_key,
    previous_of,
    with_rv,
)

log = logging.getLogger(__name__)

# Changes kept per resource for watches to resume from; Kubernetes keeps about 5 minutes of history.
DEFAULT_HISTORY = 10_000
# Trim in batches so the trim work is amortised over many writes.
TRIM_SLACK = 200
# Seconds one Redis call may take before the request gets 503: every call the API makes is
# short (the longest is one list script), and a frozen Redis must be reported within seconds.
DEFAULT_TIMEOUT = 2.0
# Longest XREAD BLOCK of a watch; its socket may stay quiet this long plus ``timeout``.
MAX_BLOCK = 10.0
# Stream entries one XREAD returns at most.
BATCH = 500
# Connections of one process for its short calls: each is held for one call (a few ms), so a
# few dozen keep Redis, which runs one command at a time, busy (docs/serving.md).
DEFAULT_CONNECTIONS = 64
# Connections for stream reads: a watch holds one while its XREAD blocks (up to a second).
DEFAULT_STREAM_CONNECTIONS = 512
# Seconds a call waits for a free connection before it is answered 503 with Retry-After.
DEFAULT_POOL_WAIT = 1.0
# What a client is told to wait when the pool stayed full (kube-apiserver's max-inflight: 1 s).
RETRY_AFTER = 1
# Milliseconds a short call waits for its reply before it lets the other greenlets of its
# process run (``_BriskSocket``): a local Redis answers in a fraction of one.
REPLY_WAIT_MS = 2

_WRITE = """
local op, expected, body, member = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local node, prefix, maxlen = ARGV[5], ARGV[6], tonumber(ARGV[7])
local expected_uid, uid = ARGV[8], ARGV[9]
local set_claims, wanted, owner, claims = ARGV[11], ARGV[12], ARGV[13], ARGV[14]
local cur = redis.call('HMGET', KEYS[1], 'rv', 'uid', 'c')
if op == 'create' then
  if cur[1] then return {'exists', cur[1]} end
else
  if not cur[1] then return {'notfound', ''} end
  if expected ~= '' and expected ~= cur[1] then return {'conflict', cur[1]} end
  if expected_uid ~= '' and expected_uid ~= cur[2] then return {'uid', cur[2] or ''} end
end
local function split(c)
  local sep = string.find(c, ':', 1, true)
  return claims .. string.sub(c, 1, sep - 1), string.sub(c, sep + 1)
end
local keep = {}
if set_claims == '1' then
  for c in string.gmatch(wanted, '%S+') do
    local hash, value = split(c)
    local holder = redis.call('HGET', hash, value)
    if holder and holder ~= owner then return {'claimed', c} end
    keep[c] = true
  end
end
if op == 'delete' or set_claims == '1' then
  for c in string.gmatch(cur[3] or '', '%S+') do
    local hash, value = split(c)
    if not keep[c] and redis.call('HGET', hash, value) == owner then
      redis.call('HDEL', hash, value)
    end
  end
end
if set_claims == '1' then
  for c in string.gmatch(wanted, '%S+') do
    local hash, value = split(c)
    redis.call('HSET', hash, value, owner)
  end
  redis.call('HSET', KEYS[1], 'c', wanted)
end
local prev = ''
if op == 'update' then
  local ok, old = pcall(cjson.decode, redis.call('HGET', KEYS[1], 'o'))
  if ok and type(old) == 'table' then
    local m, sp, st = old['metadata'] or {}, old['spec'] or {}, old['status'] or {}
    if type(sp) ~= 'table' then sp = {} end
    if type(st) ~= 'table' then st = {} end
    prev = cjson.encode({labels = m['labels'], nodeName = sp['nodeName'], phase = st['phase']})
  end
end
local rev = redis.call('INCR', KEYS[2])
local etype = 'MODIFIED'
local old_node = redis.call('HGET', KEYS[6], member)
if op == 'delete' then
  etype = 'DELETED'
  body = redis.call('HGET', KEYS[1], 'o')
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[4], member)
  redis.call('SREM', KEYS[5], member)
  node = ''
else
  if op == 'create' then etype = 'ADDED' end
  redis.call('HSET', KEYS[1], 'o', body, 'rv', tostring(rev), 'uid', uid)
  if set_claims == '1' and wanted == '' then redis.call('HDEL', KEYS[1], 'c') end
  redis.call('SADD', KEYS[4], member)
  redis.call('SADD', KEYS[5], member)
end
if old_node and old_node ~= node then
  redis.call('SREM', prefix .. old_node, member)
  redis.call('HDEL', KEYS[6], member)
end
if node ~= '' and old_node ~= node then
  redis.call('SADD', prefix .. node, member)
  redis.call('HSET', KEYS[6], member, node)
end
redis.call('XADD', KEYS[3], tostring(rev) .. '-0', 't', etype, 'o', body, 'p', prev, 'k', member)
local len = redis.call('XLEN', KEYS[3])
if len > maxlen + tonumber(ARGV[10]) then
  local drop = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', len - maxlen)
  local last = drop[#drop][1]
  local last_rev = tonumber(string.match(last, '^(%d+)'))
  redis.call('XTRIM', KEYS[3], 'MINID', tostring(last_rev + 1) .. '-0')
  redis.call('SET', KEYS[7], tostring(last_rev))
end
return {'ok', tostring(rev), body}
"""

_LIST = """
local members = redis.call('SMEMBERS', KEYS[1])
local out = {redis.call('GET', KEYS[2]) or '0'}
for _, m in ipairs(members) do
  local sep = string.find(m, '/', 1, true)
  local key = ARGV[1] .. string.sub(m, 1, sep - 1) .. ':' .. string.sub(m, sep + 1)
  local v = redis.call('HMGET', key, 'o', 'rv')
  if v[1] then
    table.insert(out, m)
    table.insert(out, v[1])
    table.insert(out, v[2])
  end
end
return out
"""


class RedisStore:
    """``Store`` on one Redis server. Thread-safe: redis-py pools its connections."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "tk:",
        history: int = DEFAULT_HISTORY,
        timeout: float = DEFAULT_TIMEOUT,
        password: str | None = None,
        max_connections: int = DEFAULT_CONNECTIONS,
        stream_connections: int = DEFAULT_STREAM_CONNECTIONS,
        pool_wait: float = DEFAULT_POOL_WAIT,
        transformers: encryption.Transformers | None = None,
    ) -> None:
        """``password`` (or the ACL user's, named in the URL) comes from a file or the environment,
        so that it is never on a command line; a password in ``url`` wins. Short calls share
        ``max_connections`` connections, stream reads ``stream_connections``; a call waits up
        to ``pool_wait`` seconds for one."""
        self.prefix = prefix
        self.history = history
        # Encryption at rest, by resource (``--encryption-provider-config``).
        self.transformers = dict(transformers or {})
        # One retry, and only when the connection was refused or reset (a restarted Redis, a
        # stale pooled connection): after a timeout the server may be frozen, and redis-py's
        # default (retry timeouts too, in the handshake and again around it) turned one frozen
        # call into 15-45 s.
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 1, (redis.ConnectionError,))
        common: dict[str, Any] = {
            "socket_connect_timeout": timeout,
            "retry": retry,
            "protocol": 2,
            "password": password,
        }
        self._pool = _WaitingPool.from_url(
            url,
            socket_timeout=timeout,
            health_check_interval=30,
            max_connections=max_connections,
            timeout=pool_wait,
            **_brisk(url),
            **common,
        )
        # Stream reads block up to MAX_BLOCK by design; their sockets get that much more time
        # (redis-py 8's default 5 s would cut every longer block), and no more.
        self._blocking_pool = _WaitingPool.from_url(
            url,
            socket_timeout=MAX_BLOCK + timeout,
            max_connections=stream_connections,
            timeout=pool_wait,
            **common,
        )
        self.r = redis.Redis(connection_pool=self._pool, decode_responses=False)
        self.rb = redis.Redis(connection_pool=self._blocking_pool, decode_responses=False)
        self._write = self.r.register_script(_WRITE)
        self._list = self.r.register_script(_LIST)

    # -- keys ---------------------------------------------------------------------------------

    def _okey(self, resource: str, namespace: str, name: str) -> str:
        return f"{self.prefix}o:{resource}:{namespace}:{name}"

    def _keys(self, resource: str, namespace: str, name: str) -> list[str]:
        p = self.prefix
        return [
            self._okey(resource, namespace, name),
            f"{p}rev",
            f"{p}ev:{resource}",
            f"{p}i:{resource}:{namespace}",
            f"{p}i:{resource}",
            f"{p}nv:{resource}",
            f"{p}cp:{resource}",
        ]

    # -- reads ----------------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        with _translated():
            found: Any = self.r.hmget(self._okey(resource, namespace, name), ["o", "rv"])
        body, rv = found
        if body is None:
            raise errors.NotFoundError(f'{resource} "{name}" not found')
        return with_rv(self._decode(resource, f"{namespace}/{name}", body), int(rv))

    def list(
        self, resource: str, namespace: str | None = None, *, node: str | None = None
    ) -> tuple[list[Obj], int]:
        p = self.prefix
        if node is not None:
            index = f"{p}n:{resource}:{node}"
        elif namespace:
            index = f"{p}i:{resource}:{namespace}"
        else:
            index = f"{p}i:{resource}"
        with _translated():
            raw: Any = self._list(keys=[index, f"{p}rev"], args=[f"{p}o:{resource}:"])
        rev = int(raw[0])
        items = [
            with_rv(self._decode(resource, raw[i].decode(), raw[i + 1]), int(raw[i + 2]))
            for i in range(1, len(raw), 3)
        ]
        if node is not None and namespace:
            items = [o for o in items if o["metadata"].get("namespace") == namespace]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return items, rev

    def count(self, resource: str, namespace: str | None = None) -> int:
        index = (
            f"{self.prefix}i:{resource}:{namespace}" if namespace else f"{self.prefix}i:{resource}"
        )
        with _translated():
            value: Any = self.r.scard(index)
        return int(value)

    def revision(self) -> int:
        with _translated():
            value: Any = self.r.get(f"{self.prefix}rev")
        return int(value or 0)

    def progress(self, resource: str) -> Progress:
        p = self.prefix
        with _translated():
            pipe = self.r.pipeline(transaction=True)
            pipe.get(f"{p}rev")
            pipe.xrevrange(f"{p}ev:{resource}", count=1)
            pipe.get(f"{p}cp:{resource}")
            rev, newest, compacted = pipe.execute()
        trimmed = int(compacted or 0)
        last = int(newest[0][0].split(b"-", 1)[0]) if newest else trimmed
        return Progress(int(rev or 0), last, trimmed)

    def ping(self) -> None:
        with _translated():
            self.r.ping()

    def requires_auth(self) -> bool:
        """Whether the server refuses a client that brings no credentials (one that needs none
        lets any local process read and write every object)."""
        kwargs = {
            k: v
            for k, v in self._pool.connection_kwargs.items()
            if k not in ("username", "password", "credential_provider")
        }
        conn = self._pool.connection_class(**kwargs)
        try:
            with _translated():
                conn.send_command("PING")
                conn.read_response()
        except errors.StoreCredentialsError:
            return True
        finally:
            conn.disconnect()
        return False

    # -- writes ---------------------------------------------------------------------------------

    def _run(
        self,
        op: str,
        resource: str,
        namespace: str,
        name: str,
        obj: Obj | None,
        expected_rv: int | None,
        expected_uid: str | None,
        claims: Sequence[str] | None = None,
    ) -> Obj:
        body: str | bytes = ""
        uid = ""
        if obj is not None:
            meta = obj.setdefault("metadata", {})
            meta.pop("resourceVersion", None)
            uid = str(meta.get("uid") or "")
            body = self._encode(resource, f"{namespace}/{name}", obj)
        node = node_of(resource, obj) if obj is not None else ""
        args: list[str | bytes | int] = [
            op,
            "" if expected_rv is None else str(expected_rv),
            body,
            f"{namespace}/{name}",
            node,
            f"{self.prefix}n:{resource}:",
            self.history,
            expected_uid or "",
            uid,
            TRIM_SLACK,
            "0" if claims is None else "1",
            " ".join(check_claims(claims or ())),
            claim_owner(resource, namespace, name),
            f"{self.prefix}cl:",
        ]
        with _translated():
            res: Any = self._write(keys=self._keys(resource, namespace, name), args=args)
        status, value, *rest = res
        status = status.decode()
        if status == "ok":
            out = self._decode(resource, f"{namespace}/{name}", rest[0]) if obj is None else obj
            return with_rv(out, int(value))
        raise _write_error(status, resource, name, expected_uid, value.decode())

    def create(self, resource: str, obj: Obj, *, claims: Sequence[str] = ()) -> Obj:
        ns, name = object_key(obj)
        return self._run("create", resource, ns, name, obj, None, None, claims or None)

    def update(
        self,
        resource: str,
        obj: Obj,
        *,
        expected_rv: int | None = None,
        claims: Sequence[str] | None = None,
    ) -> Obj:
        ns, name = object_key(obj)
        return self._run("update", resource, ns, name, obj, expected_rv, None, claims)

    def claimed(self, pool: str) -> set[str]:
        with _translated():
            values: Any = self.r.hkeys(f"{self.prefix}cl:{pool}")
        return {v.decode() for v in values}

    def holder(self, claim: str) -> str | None:
        pool, _, value = claim.partition(":")
        with _translated():
            found: Any = self.r.hget(f"{self.prefix}cl:{pool}", value)
        return None if found is None else str(found.decode())

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        expected_rv: int | None = None,
        expected_uid: str | None = None,
    ) -> Obj:
        return self._run("delete", resource, namespace, name, None, expected_rv, expected_uid)

    # -- watch ----------------------------------------------------------------------------------

    def watch(
        self, resource: str, since: int, *, poll: float = 5.0, until: float | None = None
    ) -> Iterator[WatchEvent | None]:
        stream = f"{self.prefix}ev:{resource}"
        compacted_key = f"{self.prefix}cp:{resource}"
        cursor = since
        self._check_history(compacted_key, resource, cursor)
        while (block := block_for(poll, until)) is not None:
            try:
                with _translated():
                    got: Any = self.rb.xread(
                        {stream: f"{cursor}-0"}, count=BATCH, block=_ms(min(block, MAX_BLOCK))
                    )
            except _PoolFullError:
                got = None  # every stream connection is busy: a quiet round, then try again
            if not got:
                yield None
                continue
            entries = got[0][1]
            # Entries trimmed between our cursor and the first one read would be a silent gap.
            # A trim keeps the newest ``history`` entries, so had it reached past our cursor,
            # every entry left would be newer than it and this read would be full: a shorter
            # read needs no look at the trimmed mark.
            if len(entries) >= min(BATCH, self.history):
                self._check_history(compacted_key, resource, cursor)
            for entry_id, fields in entries:
                rev = int(entry_id.split(b"-", 1)[0])
                member = fields.get(b"k", b"").decode()
                obj = with_rv(self._decode(resource, member, fields[b"o"]), rev)
                cursor = rev
                raw_prev = fields.get(b"p")
                prev = previous_of(obj, fastjson.loads(raw_prev)) if raw_prev else None
                yield WatchEvent(fields[b"t"].decode(), obj, rev, prev)

    # -- encryption at rest ---------------------------------------------------------------------

    def _encode(self, resource: str, member: str, obj: Obj) -> str | bytes:
        body = fastjson.dumps(obj)
        transformer = self.transformers.get(resource)
        if transformer is None:
            return body
        return transformer.to_storage(body.encode(), storage_key(resource, member).encode())

    def _decode(self, resource: str, member: str, raw: bytes) -> Obj:
        transformer = self.transformers.get(resource)
        if transformer is not None:
            key = storage_key(resource, member)
            try:
                raw, _ = transformer.from_storage(raw, key.encode())
                decoded: Obj = fastjson.loads(raw)
            except (encryption.TransformError, ValueError) as e:
                raise errors.InternalError(
                    f'Internal error occurred: unable to transform key "{key}": {e}',
                    [errors.Cause("", "", f'unable to transform key "{key}": {e}')],
                ) from None
            return decoded
        return dict(fastjson.loads(raw))

    def stale(self, resource: str, namespace: str, name: str) -> bool:
        """Whether the stored value was written with a key other than the one that writes now
        (an update of it must be written even when nothing else changes)."""
        transformer = self.transformers.get(resource)
        if transformer is None:
            return False
        with _translated():
            raw: Any = self.r.hget(self._okey(resource, namespace, name), "o")
        return raw is not None and transformer.stale(raw)

    def unreadable(self, resource: str, limit: int = 5) -> tuple[int, tuple[str, ...]]:
        """How many stored objects of ``resource`` cannot be decrypted, and the first reasons."""
        if resource not in self.transformers:
            return 0, ()
        with _translated():
            raw: Any = self._list(keys=[f"{self.prefix}i:{resource}", f"{self.prefix}rev"],
                                  args=[f"{self.prefix}o:{resource}:"])  # fmt: skip
        problems: tuple[str, ...] = ()
        for i in range(1, len(raw), 3):
            try:
                self._decode(resource, raw[i].decode(), raw[i + 1])
            except errors.InternalError as e:
                problems += (e.message,)
        return len(problems), problems[:limit]

    def _check_history(self, compacted_key: str, resource: str, cursor: int) -> None:
        with _translated():
            value: Any = self.r.get(compacted_key)
        compacted = int(value or 0)
        if compacted > cursor:
            raise errors.GoneError(f"too old resource version: {cursor} ({compacted})")

    def close(self) -> None:
        self._pool.disconnect()
        self._blocking_pool.disconnect()


def storage_key(resource: str, member: str) -> str:
    """The name kube-apiserver gives a value in etcd (``/registry/secrets/NS/NAME``), bound into
    an aesgcm ciphertext and named in messages."""
    namespace, _, name = member.rpartition("/")
    where = f"{namespace}/{name}" if namespace else name
    return f"/registry/{resource}/{where}"


def _write_error(
    status: str, resource: str, name: str, expected_uid: str | None, current: str
) -> errors.ApiError:
    if status == "claimed":
        return errors.ClaimTakenError(f"{current} is held by another object", claim=current)
    if status == "exists":
        return errors.AlreadyExistsError(f'{resource} "{name}" already exists')
    if status == "notfound":
        return errors.NotFoundError(f'{resource} "{name}" not found')
    if status == "uid":
        return errors.ConflictError(
            f"Precondition failed: UID in precondition: {expected_uid}, "
            f"UID in object meta: {current}"
        )
    return errors.ConflictError(
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def _ms(seconds: float) -> int:
    """XREAD's BLOCK in milliseconds; never 0, which would block for ever."""
    return max(1, int(seconds * 1000))


class _PoolFullError(errors.ServiceUnavailableError):
    """Every connection of a pool stayed busy for the pool's wait: come back in a second."""

    def __init__(self) -> None:
        super().__init__(
            "the storage backend is busy: no connection was free in time, please try again later",
            details={"retryAfterSeconds": RETRY_AFTER},
        )


class _WaitingPool(redis.BlockingConnectionPool):
    """redis-py's blocking pool (a caller waits for a free connection rather than being told
    "Too many connections"), telling its wait's end apart from a failed connect."""

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except redis.ConnectionError as e:
            if str(e) == _NO_CONNECTION:
                raise _PoolFullError() from None
            raise

    def ensure_connection(self, connection: Any) -> None:
        if not _idle(connection):
            super().ensure_connection(connection)

    def _checkpid(self) -> None:
        # redis-py's check, run twice a call, asks the kernel for the process id each time.
        if self.pid != processid.pid():
            super()._checkpid()


# The kernel's poll, even where gevent has patched ``select.poll``.
_poll = get_original("select", "poll")


class _BriskSocket(gevent.socket.socket):  # type: ignore[misc]
    """A cooperative socket whose reads first wait up to ``REPLY_WAIT_MS`` for their bytes
    with the kernel's ``poll``, holding the process, before they wait as gevent's do, letting
    the other greenlets run. Under the API workers' event loop, a call that gives way to the
    other greenlets goes on only once every greenlet ready before its reply came has run: under
    load, tens of milliseconds for a reply that took a tenth of one. So a short call (all but
    the stream reads) keeps its request's turn; a slow or frozen Redis costs the process at
    most that wait per call (docs/serving.md)."""

    def sendall(self, data: Any, flags: int = 0) -> None:
        """One ``send`` where it takes it all (a command is small): gevent's ``sendall`` first
        asks the kernel for the socket's buffer size, a system call per command."""
        sent = self.send(data, flags)
        if sent < len(data):
            super().sendall(memoryview(data)[sent:], flags)

    def recv_into(self, *args: Any) -> int:
        if self.timeout != 0.0:  # 0: redis-py asks whether a reply is there, without waiting
            poller = _poll()
            poller.register(self.fileno(), select.POLLIN)
            poller.poll(REPLY_WAIT_MS)
        return int(super().recv_into(*args))


class _Brisk:
    """A redis-py connection over a ``_BriskSocket`` where sockets are gevent's (the API
    workers); elsewhere (the controller process's threads) over the plain socket it made."""

    def _connect(self) -> Any:
        sock = super()._connect()  # type: ignore[misc]
        if not isinstance(sock, gevent.socket.socket):
            return sock
        timeout = sock.gettimeout()
        brisk = _BriskSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        brisk.settimeout(timeout)
        return brisk


class _BriskConnection(_Brisk, redis.Connection):
    pass


class _BriskUnixConnection(_Brisk, redis.UnixDomainSocketConnection):
    pass


_BRISK: dict[type, type] = {
    redis.Connection: _BriskConnection,
    redis.UnixDomainSocketConnection: _BriskUnixConnection,
}


def _brisk(url: str) -> dict[str, Any]:
    """The pool option that gives a short-call pool for ``url`` brisk connections: over TCP
    and Unix sockets (TLS connections keep redis-py's own)."""
    scheme = parse_url(url).get("connection_class", redis.Connection)  # type: ignore[no-untyped-call]
    brisk = _BRISK.get(scheme)
    return {} if brisk is None else {"connection_class": brisk}


def _idle(connection: Any) -> bool:
    """Whether a pooled connection is open with no reply left to read: nothing in its parser's
    buffer (hiredis's reader), nor in its socket, asked with the kernel's ``poll(0)``. redis-py
    asks the same through ``select.poll``, which under gevent is gevent's: a turn of its hub,
    about 15 times the cost, on every command. Anything else (not connected, another parser,
    bytes waiting) gets redis-py's own check, which reconnects a connection holding data."""
    sock = getattr(connection, "_sock", None)
    reader = getattr(getattr(connection, "_parser", None), "_reader", None)
    if sock is None or reader is None or not hasattr(reader, "has_data") or reader.has_data():
        return False
    pending = getattr(sock, "pending", None)  # TLS: bytes decrypted above the socket
    if pending is not None and pending():
        return False
    poller = _poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)


# What redis-py's blocking pool says when its wait ends without a free connection.
_NO_CONNECTION = "No connection available."


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Turn redis-py failures into ``ServiceUnavailableError`` (503) at the module boundary."""
    try:
        yield
    except redis.AuthenticationError as e:
        raise errors.StoreCredentialsError(
            f"the storage backend refused our credentials: {e}"
        ) from e
    except (redis.ConnectionError, redis.TimeoutError) as e:
        raise errors.ServiceUnavailableError(f"the storage backend is unavailable: {e}") from e
    except redis.RedisError as e:
        raise errors.ServiceUnavailableError(f"the storage backend failed: {e}") from e
