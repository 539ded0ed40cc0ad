"""Bad input against the API server: a fixed set of malformed requests (broken JSON, deep nesting,
lone surrogates, duplicate keys, trailing data, a byte-order mark, bad query parameters, bad
Event names, wrong types) counted by outcome (5xx, accepted, refused, objects stored); then YAML
bodies timed (an alias bomb, a flat 2.2 MiB document, a 2.5 MiB deeply structured manifest, a
2.8 MB multi-anchor body); then over-limit bodies sent to a real gunicorn over TLS.

The app runs in-process (Flask's test client) over a private redis-server. ``--source DIR`` runs
the same requests against another checkout (e.g. main's) to print the figures before a change.
Usage: python bench/bad_input.py [--source DIR] [--no-tls]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ADMIN = "bench-token"
NS = "/api/v1/namespaces/default"
Case = tuple[str, str, str, bytes, str, dict[str, str]]


def pod(name: str = "p", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "x"}]}, **extra}  # fmt: skip


def jb(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def event(name: str) -> bytes:
    return jb({"metadata": {"name": name}, "involvedObject": {"namespace": "default"},
               "reason": "R", "message": "m"})  # fmt: skip


def _body_cases() -> Iterator[Case]:
    j = "application/json"
    for depth in (200, 1000, 5000, 100_000):
        nested = b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"d","labels":' + (
            b'{"a":' * depth + b"1" + b"}" * depth + b"}}"
        )
        yield "deep-object", "POST", f"{NS}/pods", nested, j, {}
        yield "deep-array", "POST", f"{NS}/pods", b"[" * depth + b"]" * depth, j, {}
    for s in ("\\ud800", "\\udfff", "a\\ud800b", "\\ud800\\ud800"):
        raw = b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"s","annotations":{"a":"'
        body = raw + s.encode() + b'"}},"spec":{"containers":[{"name":"c","image":"x"}]}}'
        yield "surrogate", "POST", f"{NS}/pods", body, j, {}
    dup = b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dup","name":"dup2"},' + (
        b'"spec":{"containers":[{"name":"c","image":"x"}]}}'
    )
    yield "duplicate-key", "POST", f"{NS}/pods", dup, j, {}
    dup_label = jb(pod("dl"))[:-1].replace(b'"name": "dl"', b'"name": "dl", "labels":'
                                           b' {"a": "1", "a": "2"}') + b"}"  # fmt: skip
    yield "duplicate-key", "POST", f"{NS}/pods", dup_label, j, {}
    for junk in (b"junk", b"}", b"{}", b"\x00", b"[1]", b" 1"):
        yield "trailing-data", "POST", f"{NS}/pods", jb(pod("t")) + junk, j, {}
        yaml_body = jb(pod("ty")) + b"\n" + junk
        yield "trailing-data", "POST", f"{NS}/pods", yaml_body, "application/yaml", {}
    yield "bom", "POST", f"{NS}/pods", b"\xef\xbb\xbf" + jb(pod("bom")), j, {}
    yield "utf16", "POST", f"{NS}/pods", json.dumps(pod("u16")).encode("utf-16"), j, {}
    for lit in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        body = jb(pod("nan", spec={"containers": [{"name": "c", "image": "x"}],
                                   "activeDeadlineSeconds": 0}))  # fmt: skip
        yield "non-json-number", "POST", f"{NS}/pods", body.replace(b"0}", lit + b"}"), j, {}
    for name in ("My_Pod", "a\nb", "a\x00b", "*", "a\tb", "a\x7fb", ".", "..", "a/b", "a%b"):
        yield "event-name", "POST", f"{NS}/events", event(name), j, {}


def _type_cases() -> Iterator[Case]:
    j = "application/json"
    wrong: list[Any] = [1, "x", [], {}, True, None, [1], {"a": 1}]
    for value in wrong:
        # null, [] and {} are valid in some of these places: counted apart.
        label = "empty-or-null" if value in (None, [], {}) else "wrong-type"
        for where in ("metadata", "spec", "labels", "annotations", "containers", "ownerReferences",
                      "finalizers", "tolerations", "env", "ports"):  # fmt: skip
            p = pod("w")
            if where in ("metadata", "spec"):
                p[where] = value
            elif where in ("labels", "annotations", "ownerReferences", "finalizers"):
                p["metadata"][where] = value
            elif where in ("containers", "tolerations"):
                p["spec"][where] = value
            else:
                p["spec"]["containers"][0][where] = value
            yield label, "POST", f"{NS}/pods", jb(p), j, {}
            yield (
                label,
                "POST",
                "/api/v1/nodes",
                jb({"metadata": {"name": "n"}, "spec": {"taints": value}}),
                j,
                {},
            )
            yield (
                label,
                "POST",
                f"{NS}/events",
                jb({"metadata": {"name": "e"}, "involvedObject": value}),
                j,
                {},
            )
            yield label, "DELETE", f"{NS}/pods/seed", jb({"preconditions": value}), j, {}
            yield (
                label,
                "PATCH",
                f"{NS}/pods/seed",
                jb({"metadata": {"labels": value}}),
                ("application/merge-patch+json"),
                {},
            )
            yield (
                label,
                "PATCH",
                f"{NS}/pods/seed",
                jb([{"op": "add", "path": value}]),
                ("application/json-patch+json"),
                {},
            )


def _query_cases() -> Iterator[Case]:
    bad = {"gracePeriodSeconds": ["abc", "1.5", "-"], "timeoutSeconds": ["abc", "-5", "1e3"],
           "limit": ["abc", "-5"], "resourceVersion": ["abc", "-1"], "watch": ["maybe"],
           "allowWatchBookmarks": ["x"], "propagationPolicy": ["Sideways"],
           "orphanDependents": ["x"], "dryRun": ["Some"], "pretty": ["x"]}  # fmt: skip
    for key, values in bad.items():
        for v in values:
            method = "DELETE" if key in ("gracePeriodSeconds", "propagationPolicy",
                                         "orphanDependents", "dryRun") else "GET"  # fmt: skip
            path = f"{NS}/pods/seed" if method == "DELETE" else f"{NS}/pods"
            query = {key: v}
            if key in ("timeoutSeconds", "allowWatchBookmarks"):
                query["watch"] = "1"
            yield f"query-{key}", method, path, b"", "application/json", query


def cases() -> list[Case]:
    return [*_body_cases(), *_type_cases(), *_query_cases()]


def _seed(client: Any, headers: dict[str, str]) -> None:
    client.post(f"{NS}/pods", json=pod("seed"), headers=headers)


def run_cases(client: Any, store: Any) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    by_outcome: Counter[str] = Counter()
    by_label: dict[str, Counter[str]] = {}
    for label, method, path, body, ctype, query in cases():
        _seed(client, headers)
        before = _count(store)
        t0 = time.monotonic()
        try:
            resp = client.open(path, method=method, data=body, query_string=query,
                               headers={**headers, "Content-Type": ctype})  # fmt: skip
            code = resp.status_code
            resp.close()
        except Exception as e:  # a request the server could not answer at all
            code = 599
            print(f"  {label}: no answer ({type(e).__name__})")
        took = time.monotonic() - t0
        stored = _count(store) - before
        outcome = "5xx" if code >= 500 else "accepted" if code < 300 else "refused"
        if code < 300 and method == "DELETE":
            outcome = "accepted"
        by_outcome[outcome] += 1
        by_label.setdefault(label, Counter())[outcome] += 1
        if code >= 400 and stored > 0:
            by_outcome["stored on 4xx"] += 1
        if took > 1.0:
            print(f"  {label}: {took:.1f} s")
        if method == "DELETE" and code < 300:
            _seed(client, headers)
    total = sum(v for k, v in by_outcome.items() if k != "stored on 4xx")
    print(f"malformed requests: {total}")
    for key in ("5xx", "accepted", "refused", "stored on 4xx"):
        print(f"  {key:14} {by_outcome.get(key, 0)}")
    for label, counts in by_label.items():
        if counts.get("5xx") or counts.get("accepted"):
            print(f"    {label:24} 5xx={counts.get('5xx', 0)} accepted={counts.get('accepted', 0)}")


def _count(store: Any) -> int:
    return sum(len(store.list(p, None)[0]) for p in ("pods", "events", "nodes"))


# -- YAML -------------------------------------------------------------------------------------


def billion_laughs(levels: int = 6) -> str:
    """A Node whose free-form ``spec.configSource`` holds 10**(levels-1) aliases of one string."""
    lines = ["apiVersion: v1", "kind: Node", "metadata: {name: laughs}", "spec:",
             "  configSource:", "    x0: &a0 lol"]  # fmt: skip
    for i in range(1, levels):
        refs = ",".join(f"k{k}: *a{i - 1}" for k in range(10))
        lines.append(f"    x{i}: &a{i} {{{refs}}}")
    return "\n".join(lines) + "\n"


def flat_doc(size: int) -> str:
    lines = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: flat", "  annotations:"]
    n = 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(f"    key-{n}: {'v' * 60}")
        n += 1
    lines.append("spec: {containers: [{name: c, image: x}]}")
    return "\n".join(lines) + "\n"


def structured_doc(size: int) -> str:
    """Many small nested mappings: the costly shape for a YAML parser."""
    head = ["apiVersion: v1", "kind: Pod", "metadata: {name: deep}", "spec:", "  containers:"]
    item = ("  - name: c{n}\n    image: x\n    env:\n    - {{name: A, value: b}}\n"
            "    - {{name: B, valueFrom: {{fieldRef: {{fieldPath: x}}}}}}\n"
            "    ports:\n    - {{containerPort: 1, protocol: TCP}}\n")  # fmt: skip
    parts, total, n = ["\n".join(head) + "\n"], 0, 0
    while total < size:
        chunk = item.format(n=n)
        parts.append(chunk)
        total += len(chunk)
        n += 1
    return "".join(parts)


def anchors_doc(size: int) -> str:
    """Many anchors and aliases, each small: the audit's slow 2.8 MB body."""
    lines = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: anchors", "  annotations:"]
    n = 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(f"    k{n}: &x{n} [{{a: 1, b: [1, 2, {{c: d}}]}}, *x{n - 1 if n else 0}]"
                     if n else "    k0: &x0 [{a: 1}]")  # fmt: skip
        n += 1
    lines.append("spec: {containers: [{name: c, image: x}]}")
    return "\n".join(lines) + "\n"


def run_yaml(client: Any, store: Any) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/yaml"}
    docs = [("billion laughs (6 levels)", billion_laughs()),
            ("flat 2.2 MiB", flat_doc(int(2.2 * 2**20))),
            ("structured 2.5 MiB", structured_doc(int(2.5 * 2**20))),
            ("anchors 2.8 MB", anchors_doc(2_800_000))]  # fmt: skip
    for label, text in docs:
        body = text.encode()
        t0 = time.monotonic()
        path = "/api/v1/nodes" if "laughs" in label else f"{NS}/pods"
        resp = client.post(path, data=body, headers=headers)
        took = time.monotonic() - t0
        stored = ""
        if resp.status_code == 201:
            name = resp.get_json()["metadata"]["name"]
            ns = "" if path.startswith("/api/v1/nodes") else "default"
            size = len(json.dumps(store.get(path.rsplit("/", 1)[1], ns, name)))
            stored = f", stored {size:,} bytes (x{size / len(body):,.0f})"
            client.delete(f"{path}/{name}", headers=headers)
        message = (resp.get_json(silent=True) or {}).get("message", "")[:70]
        print(f"  yaml {label}: {len(body):,} bytes -> {resp.status_code} in {took:.2f} s"
              f"{stored} {message}")  # fmt: skip


# -- over-limit bodies on a real server -------------------------------------------------------


SERVER = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from common.redis_server import free_port, start_redis
from control.redis_store import RedisStore
from control.apiserver.app import create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.main import _Server
port = int(sys.argv[2]); rport = free_port()
proc = start_redis(Path(tempfile.mkdtemp()), rport)
store = RedisStore(f"redis://127.0.0.1:{rport}/0", prefix="b:")
app = create_app(store, TokenAuthenticator({"ADMIN": User("admin", ("system:masters",))}))
opts = {"bind": f"127.0.0.1:{port}", "workers": 1, "worker_class": "gthread", "threads": 4,
        "loglevel": "warning"}
if len(sys.argv) > 3:
    opts.update(certfile=sys.argv[3], keyfile=sys.argv[4])
try:
    _Server(app, opts).run()
finally:
    proc.terminate()
""".replace("ADMIN", ADMIN)


def run_over_limit(source: Path, tls: bool) -> None:
    import requests

    from common.redis_server import free_port

    tmp = Path(tempfile.mkdtemp())
    script = tmp / "server.py"
    script.write_text(SERVER)
    port = free_port()
    args = [sys.executable, str(script), str(source), str(port)]
    scheme, verify = "http", True
    if tls:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(tmp / "key.pem"), "-out", str(tmp / "cert.pem"), "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)  # fmt: skip
        args += [str(tmp / "cert.pem"), str(tmp / "key.pem")]
        scheme, verify = "https", str(tmp / "cert.pem")  # type: ignore[assignment]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"{scheme}://127.0.0.1:{port}{NS}/pods"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(url, verify=verify, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        outcomes: Counter[str] = Counter()
        for size in (3 * 2**20 + 1, 5 * 2**20, 8 * 2**20):
            body = b'{"metadata":{"annotations":{"a":"' + b"x" * size + b'"}}}'
            for _ in range(3):
                try:
                    r = requests.post(
                        url,
                        data=body,
                        verify=verify,
                        timeout=30,
                        headers={
                            "Authorization": f"Bearer {ADMIN}",
                            "Content-Type": "application/json",
                        },
                    )
                    ok = r.status_code == 413 and r.json().get("kind") == "Status"
                    outcomes["413 Status" if ok else f"HTTP {r.status_code}"] += 1
                except requests.RequestException as e:
                    outcomes[f"connection error ({type(e).__name__})"] += 1
        print(f"over-limit bodies (3 MiB+1, 5 MiB, 8 MiB; x3) over {scheme}:")
        for key, n in outcomes.items():
            print(f"  {key:40} {n}")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--no-tls", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(args.source.resolve()))
    from common.redis_server import free_port, start_redis
    from control.apiserver.app import create_app
    from control.apiserver.auth import TokenAuthenticator, User
    from control.redis_store import RedisStore

    port = free_port()
    proc = start_redis(Path(tempfile.mkdtemp()), port)
    try:
        store = RedisStore(f"redis://127.0.0.1:{port}/0", prefix="bench:")
        app = create_app(store, TokenAuthenticator({ADMIN: User("admin", ("system:masters",))}))
        app.logger.disabled = True
        import logging

        logging.disable(logging.CRITICAL)
        app.extensions["tinykube"]["registry"].ensure_namespaces()
        client = app.test_client()
        print(f"source: {args.source}")
        run_cases(client, store)
        run_yaml(client, store)
        store.close()
    finally:
        proc.terminate()
        proc.wait(10)
    run_over_limit(args.source.resolve(), not args.no_tls)


if __name__ == "__main__":
    main()
