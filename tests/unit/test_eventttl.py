"""Which events have expired: last seen (lastTimestamp, else eventTime, else creation) over TTL."""

from __future__ import annotations

import datetime as dt

from control.controllers.eventttl import expired, last_seen

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def ev(name: str, **times: str) -> dict[str, object]:
    created = times.pop("created", "")
    return {"metadata": {"name": name, "creationTimestamp": created}, **times}


def test_expired_by_last_timestamp() -> None:
    events = [
        ev("old", lastTimestamp="2026-01-01T10:59:59Z"),
        ev("edge", lastTimestamp="2026-01-01T11:00:00Z"),
        ev("new", lastTimestamp="2026-01-01T11:30:00Z"),
        # First seen long ago but repeated recently: kept.
        ev("repeated", firstTimestamp="2026-01-01T01:00:00Z", lastTimestamp="2026-01-01T11:59:00Z"),
    ]
    assert [e["metadata"]["name"] for e in expired(events, NOW, HOUR)] == ["old"]  # type: ignore[index]


def test_fallbacks_and_unknown_times() -> None:
    assert last_seen(ev("a", eventTime="2026-01-01T10:00:00.123456Z")) == dt.datetime(
        2026, 1, 1, 10, 0, 0, 123456, tzinfo=dt.UTC
    )
    assert last_seen(ev("b", created="2026-01-01T09:00:00Z")) == dt.datetime(
        2026, 1, 1, 9, tzinfo=dt.UTC
    )
    # An event with no time at all is never taken for expired.
    assert expired([ev("c")], NOW, HOUR) == []


def test_the_informer_keeps_an_events_key_identity_and_times_only() -> None:
    from control.informers import VIEWS, event_sighting

    event = {
        "metadata": {"name": "e", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                     "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}]},
        "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started", "message": "m",
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:05Z",
    }  # fmt: skip
    seen = event_sighting(event)
    assert seen == {
        "metadata": {"name": "e", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:05Z",
    }  # fmt: skip
    assert last_seen(seen) == last_seen(event)
    assert "managedFields" in event["metadata"]  # the event itself is left alone
    assert VIEWS["events"] is event_sighting
