"""The layering rule of the design, enforced over what each module pulls in at import time,
directly or through other tinykube modules (function-level imports count too)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "control", "agent")
# The only modules allowed to import these third-party packages directly.
OWNERS = {"redis": {"control.redis_store"}, "docker": {"agent.docker_runtime"}}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(p): p
    for pkg in PACKAGES
    for p in (ROOT / pkg).rglob("*.py")
    if ".venv" not in p.parts
}


def resolve(name: str) -> str | None:
    """The tinykube module an import names (``a.b.c`` may be a module or a name in ``a.b``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def direct_imports(module: str) -> frozenset[str]:
    tree = ast.parse(MODULES[module].read_text())
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return frozenset(found)


@cache
def closure(module: str) -> frozenset[str]:
    """Every import reachable from ``module`` through tinykube modules, plus their parents."""
    seen: set[str] = set()
    todo = [module]
    out: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in direct_imports(current):
            out.add(name)
            local = resolve(name)
            if local:
                # Importing a.b.c runs a/__init__ and a/b/__init__ first.
                parts = local.split(".")
                todo.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return frozenset(out)


def top(names: frozenset[str]) -> set[str]:
    return {n.split(".")[0] for n in names if n}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layering(module: str) -> None:
    pulled = top(closure(module))
    layer = module.split(".")[0]
    if layer == "common":
        assert not pulled & {"control", "agent"}, f"{module} pulls in control/agent"
    if layer == "agent":
        assert not pulled & {"control", "flask", "redis"}, f"{module} pulls in {pulled}"
    if layer == "control":
        assert not pulled & {"agent", "docker"}, f"{module} pulls in agent/docker"
    if module.startswith("control.cli"):
        # tkctl is a client: it shares common/ with the agent and nothing of the server.
        assert not pulled & {"flask", "redis", "werkzeug", "gunicorn"}, f"{module}: {pulled}"
        server = {n for n in local(module) if not n.startswith(("common", "control.cli"))}
        assert server <= {"control"}, f"{module} (tkctl) pulls in {sorted(server - {'control'})}"
    if module.startswith("control.registry"):
        # The registry is the one door for writes; controllers go through it, never the reverse.
        loops = {n for n in local(module) if n.startswith(CONTROL_LOOPS)}
        assert not loops, f"{module} (registry) pulls in controllers {sorted(loops)}"


def local(module: str) -> set[str]:
    """The tinykube modules ``module`` pulls in."""
    return {m for m in map(resolve, closure(module)) if m}


# Modules that run control loops, and planners: the pure part of a loop, which only decides.
CONTROL_LOOPS = ("control.controllers", "control.scheduling", "control.manager")
PURE = (
    "control.scheduler",
    "agent.planner",
    "agent.initplan",
    "agent.initstatus",
    "agent.deadline",
)
IMPURE = {"flask", "redis", "docker", "requests", "socket", "subprocess", "werkzeug", "gunicorn"}
SHELLS = (
    "control.store", "control.memory_store", "control.redis_store", "control.registry.registry",
    "control.apiserver", "common.client", "agent.docker_runtime", "control.manager",
)  # fmt: skip


def planners() -> list[str]:
    return sorted(m for m in MODULES if m.endswith("_plan") or m in PURE)


@pytest.mark.parametrize("module", planners())
def test_planners_stay_pure(module: str) -> None:
    """A planner takes objects and returns decisions: no I/O, no store, no threads."""
    pulled = closure(module)
    impure = {n for n in pulled if n.split(".")[0] in IMPURE}
    shells = {n for n in local(module) if n.startswith(SHELLS)}
    assert not impure and not shells, f"{module} pulls in {sorted(impure | shells)}"


@pytest.mark.parametrize("package", sorted(OWNERS))
def test_only_the_owner_imports(package: str) -> None:
    importers = {m for m in MODULES if package in top(direct_imports(m))}
    assert importers <= OWNERS[package], f"{package} imported by {importers - OWNERS[package]}"


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    """The checker itself: a module importing flask through a helper is caught."""
    MODULES["agent._probe"] = tmp_path / "probe.py"
    MODULES["common._probe_helper"] = tmp_path / "helper.py"
    (tmp_path / "probe.py").write_text("def f():\n    from common import _probe_helper\n")
    (tmp_path / "helper.py").write_text("import flask\n")
    try:
        closure.cache_clear()
        direct_imports.cache_clear()
        assert "flask" in top(closure("agent._probe"))
    finally:
        del MODULES["agent._probe"], MODULES["common._probe_helper"]
        closure.cache_clear()
        direct_imports.cache_clear()
