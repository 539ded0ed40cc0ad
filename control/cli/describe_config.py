"""``describe`` of ConfigMaps and Secrets in kubectl's layout (describeConfigMap,
describeSecret): a ConfigMap's values are shown, a Secret's only as sizes (``key:  5 bytes``),
never their contents. Pure; registered with ``control.cli.describers``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from common.wellknown import SECRET_SERVICE_ACCOUNT_TOKEN, SERVICE_ACCOUNT_TOKEN_KEY
from control.cli.describers import Text, _annotations, _labels, _m, events_section, register

Obj = Mapping[str, Any]


def _size(value: Any) -> int:
    try:
        return len(base64.b64decode(str(value)))
    except (binascii.Error, ValueError):
        return 0


def _head(w: Text, obj: Obj) -> None:
    meta = _m(obj, "metadata")
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))


def describe_config_map(cm: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
    w = Text()
    _head(w, cm)
    w.write(0, "\nData\n====\n")
    data = _m(cm, "data")
    for key in sorted(data):
        w.write(0, f"{key}:\n----\n{data[key]}\n\n")
    w.write(0, "\nBinaryData\n====\n")
    binary = _m(cm, "binaryData")
    for key in sorted(binary):
        w.write(0, f"{key}: {_size(binary[key])} bytes\n")
    w.write(0, "\n")
    events_section(w, events, now)
    return w.text()


def describe_secret(secret: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
    w = Text()
    _head(w, secret)
    kind = str(secret.get("type") or "")
    w.write(0, f"\nType:\t{kind}\n")
    w.write(0, "\nData\n====\n")
    data = _m(secret, "data")
    for key in sorted(data):
        if key == SERVICE_ACCOUNT_TOKEN_KEY and kind == SECRET_SERVICE_ACCOUNT_TOKEN:
            # kubectl shows a service account's token (it is meant to be copied).
            w.write(0, f"{key}:\t{base64.b64decode(str(data[key])).decode(errors='replace')}\n")
        else:
            w.write(0, f"{key}:\t{_size(data[key])} bytes\n")
    return w.text()


register("configmaps", describe_config_map)
register("secrets", describe_secret)
