"""A container's environment as the kubelet makes it: expansion, envFrom, valueFrom, messages."""

from __future__ import annotations

import base64

import pytest

from agent import envvars, fieldpath
from agent.configrefs import MissingObjectError, references
from agent.envvars import EnvError, PodContext, expand, make_environment, mapping_for

POD = {
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "uid": "u-1",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": 'say "hi"'},
    },
    "spec": {"nodeName": "node-1", "serviceAccountName": "default", "containers": []},
}
CTX = PodContext(pod_ips=["10.244.0.7"], host_ips=["192.168.1.5"],
                 allocatable={"cpu": "4", "memory": "8Gi"})  # fmt: skip


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


OBJECTS = {
    ("configmap", "settings"): {"data": {"MODE": "fast", "LEVEL": "3", "bad key": "x"}},
    ("secret", "creds"): {"data": {"password": b64("s3cret"), "user": b64("admin")}},
}


def lookup(kind: str, name: str):
    return OBJECTS.get((kind, name))


def env_of(container, pod=POD):
    return make_environment(pod, {"name": "c", **container}, lookup, CTX)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_A)___", "___A___"),
        ("$(VAR_A)-$(VAR_B)", "A-B"),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$(VAR_A", "$(VAR_A"),
        ("$VAR_A", "$VAR_A"),
        ("foo$", "foo$"),
        ("$()", "$()"),
        ("", ""),
    ],
)
def test_expansion_is_the_kubelets(text: str, expected: str) -> None:
    assert expand(text, mapping_for({"VAR_A": "A", "VAR_B": "B"})) == expected


def test_env_from_with_prefix_skips_invalid_names_with_the_kubelets_event() -> None:
    got = env_of({"envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "APP_"}]})
    assert got.env == {"APP_MODE": "fast", "APP_LEVEL": "3", "APP_bad key": "x"}
    got = env_of({"envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "A="}]})
    assert got.env == {}
    assert got.warnings == ((
        "InvalidEnvironmentVariableNames",
        "Keys [A=LEVEL, A=MODE, A=bad key] from the EnvFrom configMap shop/settings were "
        "skipped since they are considered invalid environment variable names.",
    ),)  # fmt: skip


def test_env_overrides_env_from_and_expands_in_order() -> None:
    got = env_of({
        "envFrom": [{"secretRef": {"name": "creds"}}],
        "env": [
            {"name": "user", "value": "root"},
            {"name": "URL", "value": "db://$(user):$(password)@$(HOST)"},
            {"name": "HOST", "value": "db"},
        ],
    })  # fmt: skip
    assert got.env["user"] == "root"
    assert got.env["URL"] == "db://root:s3cret@$(HOST)"  # HOST is declared later


def test_value_from_sources() -> None:
    got = env_of({
        "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}},
        "env": [
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "NOTE",
             "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['note']"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
            {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                               "divisor": "1Mi"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu",
                                                               "divisor": "1m"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        ],
    })  # fmt: skip
    assert got.env == {
        "NAME": "web", "NS": "shop", "UID": "u-1", "APP": "web", "NOTE": 'say "hi"',
        "NODE": "node-1", "SA": "default", "IP": "10.244.0.7", "IPS": "10.244.0.7",
        "HOST": "192.168.1.5", "MEM": "64", "CPU": "4", "REQ": "250", "MODE": "fast",
        "PW": "s3cret",
    }  # fmt: skip


def test_missing_objects_and_keys_have_the_kubelets_messages() -> None:
    ref = {"configMapKeyRef": {"name": "absent", "key": "k"}}
    with pytest.raises(MissingObjectError, match=r'^configmap "absent" not found$'):
        env_of({"env": [{"name": "X", "valueFrom": ref}]})
    ref = {"configMapKeyRef": {"name": "settings", "key": "nope"}}
    with pytest.raises(EnvError, match=r"^couldn't find key nope in ConfigMap shop/settings$"):
        env_of({"env": [{"name": "X", "valueFrom": ref}]})
    ref = {"secretKeyRef": {"name": "creds", "key": "nope"}}
    with pytest.raises(EnvError, match=r"^couldn't find key nope in Secret shop/creds$"):
        env_of({"env": [{"name": "X", "valueFrom": ref}]})
    with pytest.raises(MissingObjectError, match=r'^secret "gone" not found$'):
        env_of({"envFrom": [{"secretRef": {"name": "gone"}}]})


def test_optional_absent_leaves_the_variable_unset() -> None:
    got = env_of({
        "envFrom": [{"configMapRef": {"name": "absent", "optional": True}}],
        "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k",
                                                            "optional": True}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nope",
                                                         "optional": True}}},
        ],
    })  # fmt: skip
    assert got.env == {}


def test_field_errors() -> None:
    with pytest.raises(EnvError, match=r"unsupported fieldPath: spec.hostname"):
        env_of({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.hostname"}}}]})
    ref = {"resourceFieldRef": {"resource": "limits.cpu", "containerName": "other"}}
    with pytest.raises(EnvError, match=r"container other not found"):
        env_of({"env": [{"name": "X", "valueFrom": ref}]})
    with pytest.raises(fieldpath.FieldPathError, match=r"does not support subscript"):
        fieldpath.object_field(POD, "metadata.name['x']")


def test_labels_without_subscript_are_formatted_as_go_does() -> None:
    assert fieldpath.object_field(POD, "metadata.labels") == 'app="web"\ntier="front"'
    assert fieldpath.object_field(POD, "metadata.annotations") == 'note="say \\"hi\\""'


def test_resource_values_round_up() -> None:
    container = {"name": "c", "resources": {"limits": {"cpu": "1500m"}}}
    assert fieldpath.resource_value(POD, container, {"resource": "limits.cpu"}, {}) == "2"
    selector = {"resource": "limits.memory", "divisor": "1Gi"}
    assert fieldpath.resource_value(POD, container, selector, {"memory": "1536Mi"}) == "2"
    assert fieldpath.resource_value(POD, container, {"resource": "requests.memory"}, {}) == "0"


def test_command_and_sub_path_expansion() -> None:
    command, args = envvars.expand_command(
        {"command": ["sh", "-c"], "args": ["echo $(MSG) $$(MSG)"]}, {"MSG": "hi"}
    )
    assert command == ["sh", "-c"] and args == ["echo hi $(MSG)"]
    assert envvars.expand_sub_path("logs/$(POD)", {"POD": "web"}) == "logs/web"
    with pytest.raises(EnvError, match=r"missing value for A, B"):
        envvars.expand_sub_path("$(B)/$(A)", {"A": ""})


def test_references_cover_env_volumes_and_projections() -> None:
    pod = {
        "spec": {
            "initContainers": [{"envFrom": [{"secretRef": {"name": "s1"}}]}],
            "containers": [{"env": [{"name": "X", "valueFrom": {
                "configMapKeyRef": {"name": "c1", "key": "k"}}}]}],
            "volumes": [
                {"name": "a", "configMap": {"name": "c2"}},
                {"name": "b", "secret": {"secretName": "s2"}},
                {"name": "c", "projected": {"sources": [{"configMap": {"name": "c3"}},
                                                        {"secret": {"name": "s3"}}]}},
            ],
        }
    }  # fmt: skip
    assert references(pod) == {
        ("secret", "s1"), ("configmap", "c1"), ("configmap", "c2"), ("secret", "s2"),
        ("configmap", "c3"), ("secret", "s3"),
    }  # fmt: skip
