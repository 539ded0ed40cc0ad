"""Label and field selectors: Kubernetes' grammar, matching rules and exact error messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common import errors
from common.selectors import (
    FIELD_LABELS,
    LabelSelector,
    event_fields,
    field_labels,
    generic_fields,
    label_selector_causes,
    node_fields,
    object_fields,
    parse_field_selector,
    parse_label_selector,
    pod_fields,
    selector_from_labels,
    selector_from_object,
)

LABELS = {"app": "web", "tier": "front", "env": "prod", "gpu": "", "count": "3"}


@pytest.mark.parametrize(
    ("text", "canonical", "matches"),
    [
        ("", "", True),
        ("app=web", "app=web", True),
        ("app==web", "app==web", True),
        ("app=db", "app=db", False),
        ("app!=db", "app!=db", True),
        ("missing!=x", "missing!=x", True),  # != matches objects without the key
        ("missing=x", "missing=x", False),
        ("env in (prod,qa)", "env in (prod,qa)", True),
        ("env in (qa, prod)", "env in (prod,qa)", True),
        ("env notin (dev)", "env notin (dev)", True),
        ("missing notin (dev)", "missing notin (dev)", True),  # notin matches a missing key
        ("missing in (dev)", "missing in (dev)", False),
        ("gpu", "gpu", True),
        ("!gpu", "!gpu", False),
        ("!missing", "!missing", True),
        ("gpu=", "gpu=", True),
        ("  tier = front ,  app = web ", "app=web,tier=front", True),
        ("tier=front,app=web,env!=dev", "app=web,env!=dev,tier=front", True),
        ("count>2", "count>2", True),
        ("count<3", "count<3", False),
        ("x in (in)", "x in (in)", False),  # "in" is a value inside parentheses
        ("x in (foo,,baz)", "x in (,baz,foo)", False),
        ("x notin ()", "x notin ()", True),
        ("example.com/role=a", "example.com/role=a", False),
    ],
)
def test_parse_label_selector(text: str, canonical: str, matches: bool) -> None:
    sel = parse_label_selector(text)
    assert str(sel) == canonical
    assert sel.matches(LABELS) is matches
    assert parse_label_selector(str(sel)) == sel


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "type=app,versionv1.0.1)",
            "unable to parse requirement: found ')', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
        (
            "A@b=c",
            'unable to parse requirement: <nil>: Invalid value: "A@b": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
            "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
        (
            "a=b@c",
            'unable to parse requirement: values[0][a]: Invalid value: "b@c": a valid label must '
            "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
        (
            "x>a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
    ],
)
def test_parse_label_selector_errors(text: str, message: str) -> None:
    with pytest.raises(errors.BadRequestError) as info:
        parse_label_selector(text)
    assert info.value.message == message
    assert info.value.code == 400


def test_empty_and_nothing_selectors() -> None:
    everything = parse_label_selector("")
    assert everything.empty and not everything.matches_nothing
    assert everything.matches(None) and everything.matches({"a": "b"})
    nothing = selector_from_object(None)
    assert nothing.matches_nothing and not nothing.empty
    assert not nothing.matches({}) and not nothing.matches({"a": "b"})
    assert selector_from_object({}).empty
    assert selector_from_object({}).matches({"any": "thing"})


def test_requires_exact_match() -> None:
    sel = parse_label_selector("app=web,tier in (a),env in (a,b),x!=y")
    assert sel.requires_exact_match("app") == "web"
    assert sel.requires_exact_match("tier") == "a"
    assert sel.requires_exact_match("env") is None
    assert sel.requires_exact_match("x") is None
    assert sel.requires_exact_match("nope") is None


@pytest.mark.parametrize(
    ("obj", "canonical", "labels", "matches"),
    [
        ({"matchLabels": {"app": "web"}}, "app=web", {"app": "web"}, True),
        ({"matchLabels": {"app": "web"}}, "app=web", {"app": "db"}, False),
        (
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["qa", "prod"]}]},
            "env in (prod,qa)",
            {"env": "qa"},
            True,
        ),
        (
            {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["qa"]}]},
            "env notin (qa)",
            {},
            True,
        ),
        ({"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}, "gpu", {}, False),
        ({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}, "!gpu", {}, True),
        (
            {
                "matchLabels": {"tier": "front"},
                "matchExpressions": [{"key": "app", "operator": "Exists", "values": []}],
            },
            "app,tier=front",
            {"app": "x", "tier": "front"},
            True,
        ),
    ],
)
def test_selector_from_object(
    obj: dict[str, object], canonical: str, labels: dict[str, str], matches: bool
) -> None:
    sel = selector_from_object(obj)  # type: ignore[arg-type]
    assert str(sel) == canonical
    assert sel.matches(labels) is matches


@pytest.mark.parametrize(
    ("obj", "field", "message"),
    [
        (
            {"matchExpressions": [{"key": "env", "operator": "In"}]},
            "spec.selector.matchExpressions[0].values",
            "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        ),
        (
            {"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["a"]}]},
            "spec.selector.matchExpressions[0].values",
            "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        ),
        (
            {"matchExpressions": [{"key": "env", "operator": "Equals", "values": ["a"]}]},
            "spec.selector.matchExpressions[0].operator",
            'Invalid value: "Equals": not a valid selector operator',
        ),
        (
            {"matchLabels": {"app": "a b"}},
            "spec.selector.matchLabels",
            'Invalid value: "a b": a valid label must be an empty string',
        ),
        (
            {"matchExpressions": [{"key": "-bad", "operator": "Exists"}]},
            "spec.selector.matchExpressions[0].key",
            'Invalid value: "-bad": name part must consist of',
        ),
    ],
)
def test_selector_from_object_errors(obj: dict[str, object], field: str, message: str) -> None:
    assert [c.field for c in label_selector_causes(obj)] == [field]
    with pytest.raises(errors.BadRequestError) as info:
        selector_from_object(obj)  # type: ignore[arg-type]
    (cause,) = info.value.causes
    assert cause.field == field
    assert cause.message.startswith(message)
    assert info.value.message == f"{field}: {cause.message}"


def test_selector_from_labels() -> None:
    sel = selector_from_labels({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert not sel.matches({"a": "1"})
    assert selector_from_labels(None).empty


# --- field selectors -------------------------------------------------------------------------

POD = {
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "node-1", "restartPolicy": "Always", "hostNetwork": True},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]},
}


@pytest.mark.parametrize(
    ("text", "matches", "node"),
    [
        ("", True, None),
        ("spec.nodeName=node-1", True, "node-1"),
        ("spec.nodeName==node-1", True, "node-1"),
        ("spec.nodeName=node-2", False, "node-2"),
        ("spec.nodeName!=node-2", True, None),
        ("spec.nodeName=node-1,status.phase!=Failed", True, "node-1"),
        ("status.phase=Running,metadata.name=web-1", True, None),
        ("status.phase=Pending", False, None),
        ("status.podIP=10.0.0.5", True, None),
        ("spec.hostNetwork=true", True, None),
        ("status.nominatedNodeName=", True, None),
        ("spec.host=node-1", True, "node-1"),  # old clients' name for spec.nodeName
    ],
)
def test_pod_field_selectors(text: str, matches: bool, node: str | None) -> None:
    sel = parse_field_selector(text, FIELD_LABELS["Pod"], "Pod")
    assert sel.matches(pod_fields(POD)) is matches
    assert sel.requirement("spec.nodeName") == node
    assert sel.empty is (text == "")


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("foo=bar", "Pod", "field label not supported: foo"),
        ("spec.nodeName=x", "Node", "field label not supported: spec.nodeName"),
        (
            "spec.holderIdentity=x",
            "Lease",
            '"spec.holderIdentity" is not a known field selector: only "metadata.name", '
            '"metadata.namespace"',
        ),
        (
            "spec.nodeName",
            "Pod",
            "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'",
        ),
        ("metadata.name=a=b", "Pod", "invalid field selector: unescaped character in value: 61"),
        ("metadata.name=a\\x", "Pod", "invalid field selector: invalid escape sequence: \\x"),
    ],
)
def test_field_selector_errors(text: str, kind: str, message: str) -> None:
    with pytest.raises(errors.BadRequestError) as info:
        parse_field_selector(text, field_labels(kind), kind)
    assert info.value.message == message


def test_field_selector_escapes_and_string_form() -> None:
    sel = parse_field_selector("metadata.name=a\\,b\\=c", {"metadata.name"}, "Pod")
    assert sel.requirement("metadata.name") == "a,b=c"
    assert str(sel) == "metadata.name=a\\,b\\=c"
    assert sel.matches({"metadata.name": "a,b=c"})


def test_pod_fields_of_an_unscheduled_pod_are_empty_strings() -> None:
    fields = pod_fields({"metadata": {"name": "p", "namespace": "ns"}, "spec": {}})
    assert fields["spec.nodeName"] == ""
    assert fields["status.phase"] == ""
    assert fields["status.podIP"] == ""
    assert fields["spec.hostNetwork"] == "false"
    assert fields["metadata.namespace"] == "ns"


def test_event_fields() -> None:
    ev = {
        "metadata": {"name": "web.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "u1"},
        "reason": "Scheduled",
        "type": "Normal",
        "reportingComponent": "default-scheduler",
    }
    fields = event_fields(ev)
    sel = parse_field_selector(
        "involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=u1",
        FIELD_LABELS["Event"],
        "Event",
    )
    assert sel.matches(fields)
    assert fields["source"] == "default-scheduler"  # falls back to reportingComponent
    assert fields["involvedObject.fieldPath"] == ""
    assert event_fields({**ev, "source": {"component": "kubelet"}})["source"] == "kubelet"


def test_node_and_generic_fields() -> None:
    node = {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}
    assert node_fields(node) == {
        "metadata.name": "n1",
        "metadata.namespace": "",
        "spec.unschedulable": "true",
    }
    assert object_fields("Lease", {"metadata": {"name": "l", "namespace": "x"}}) == generic_fields(
        {"metadata": {"name": "l", "namespace": "x"}}
    )
    assert (
        object_fields("Namespace", {"metadata": {"name": "a"}, "status": {"phase": "Active"}})[
            "status.phase"
        ]
        == "Active"
    )


# --- properties ------------------------------------------------------------------------------

_name = st.from_regex(r"[a-z0-9]([-a-z0-9_.]{0,10}[a-z0-9])?", fullmatch=True)
_key = st.one_of(
    _name,
    st.builds(lambda p, n: f"{p}.io/{n}", st.from_regex(r"[a-z]{1,8}", fullmatch=True), _name),
)
_value = st.one_of(st.just(""), _name)
_label_maps = st.dictionaries(_key, _value, max_size=6)


@given(_label_maps)
def test_a_selector_built_from_labels_matches_them(labels: dict[str, str]) -> None:
    text = ",".join(f"{k}={v}" for k, v in labels.items())
    sel = parse_label_selector(text)
    assert sel.matches(labels)
    assert sel == selector_from_labels(labels)
    for key in labels:
        assert not sel.matches({k: v for k, v in labels.items() if k != key})


_requirement = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", _key, _value),
    st.builds(lambda k, v: f"{k}!={v}", _key, _value),
    st.builds(
        lambda k, vs: f"{k} in ({','.join(vs)})", _key, st.lists(_value, min_size=1, max_size=3)
    ),
    st.builds(
        lambda k, vs: f"{k} notin ({','.join(vs)})", _key, st.lists(_value, min_size=1, max_size=3)
    ),
    _key,
    st.builds(lambda k: f"!{k}", _key),
)


@given(st.lists(_requirement, max_size=5), _label_maps)
def test_string_form_round_trips_and_keeps_meaning(reqs: list[str], labels: dict[str, str]) -> None:
    sel = parse_label_selector(",".join(reqs))
    again = parse_label_selector(str(sel))
    assert again == sel
    assert str(again) == str(sel)
    assert again.matches(labels) is sel.matches(labels)


@given(_key, _value, _label_maps)
def test_negations_are_complements(key: str, value: str, labels: dict[str, str]) -> None:
    eq, ne = parse_label_selector(f"{key}={value}"), parse_label_selector(f"{key}!={value}")
    assert eq.matches(labels) is not ne.matches(labels)
    exists, absent = parse_label_selector(key), parse_label_selector(f"!{key}")
    assert exists.matches(labels) is not absent.matches(labels)
    assert isinstance(eq, LabelSelector)
