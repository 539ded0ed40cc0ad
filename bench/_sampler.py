"""The GET and LIST sampler of ``bench/scale.py`` in a process of its own: the harness's main
process runs the creator's 32 callers, a watch of every pod and every node, and their decoding,
and a call timed there waited for that process's GIL as well as for the server (its p99 was
twice the server's own). Run by ``SamplerProcess``: the names of the pods created so far come
on stdin, one per line; at end of file it prints its timings and its 5xx answers as one JSON
line and exits (its CPU seconds are read from /proc while it runs). Effectful (HTTP, threads).

Usage: python -m bench._sampler '{"server": URL, "ca": PATH|null, "authorization": HEADER}'
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bench._observe import Answers, Sampler
from common.client import ApiClient

TIMEOUT = 60.0


def main(config: dict[str, Any]) -> None:
    client = ApiClient(config["server"], None, ca_file=config["ca"], timeout=TIMEOUT)
    client.session.headers["Authorization"] = config["authorization"]
    answers = Answers()
    names: list[str] = []  # appended to by this thread, read by the GET loop's
    sampler = Sampler(answers.hook(client), lambda: names)
    for line in sys.stdin:
        names.append(line.strip())
    sampler.stop.set()
    gets = list(sampler.get)  # one copy: a GET timed meanwhile is in both lists or in neither
    print(json.dumps({
        "get": [s for _, s in gets], "get_at": [at for at, _ in gets],
        "list": [s for _, s in sampler.list], "errors_5xx": answers.errors_5xx,
        "by_kind": dict(answers.by_kind), "first_message": answers.first_message,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
