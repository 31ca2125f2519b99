"""Data flows one way (docs/architecture.md): a layer imports only the layers below it.

Read from the source with ``ast`` (nothing is imported), so a lazy import inside a function counts
as much as one at the top of a module.

    foundation (config, timeutil, airflow_conn, fast) < standard < store < intake, alerts, audit < feeds
        < merge < derive < publish < web, runtime < admin

Connectors (``connectors/``) never import the core. The core (standard … publish) takes from a
connector only its error types, to tell a transient failure from a permanent one; the objects
that talk to the network are built by the outer layer (runtime, web) and passed in.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.helpers import REPO

RANK = {
    "config": 0, "timeutil": 0, "airflow_conn": 0, "fast": 0,
    "standard": 1,
    "store": 2,
    "intake": 3, "alerts": 3, "audit": 3,
    "feeds": 4,
    "merge": 5,
    "derive": 6,
    "publish": 7,
    "web": 8, "runtime": 8,
    "admin": 9,
}
CORE = {layer for layer, rank in RANK.items() if 1 <= rank <= 7}
# Where the core builds a connector itself, and why (each a known exception to the rule).
SENDS = {
    ("alerts", "connectors.chat_robot", "send_text"): "alert delivery: the channels are optional connections",
    ("alerts", "connectors.mail", "send_mail"): "alert delivery: the channels are optional connections",
}


def _layer(path: Path) -> str:
    parts = path.relative_to(REPO / "credit_exchange").with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
    return out


def _target_layer(module: str, names: list[str]) -> list[str]:
    parts = module.split(".")
    if parts[0] != "credit_exchange":
        return []
    if len(parts) > 1:
        return [parts[1]]
    return names  # from credit_exchange import config, alerts


CORE_FILES = sorted((REPO / "credit_exchange").rglob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_a_layer_imports_only_the_layers_below_it(path: Path) -> None:
    if path.name == "__init__.py" and path.parent == REPO / "credit_exchange":
        return
    layer = _layer(path)
    assert layer in RANK, f"{layer}: a new package needs its place in the layers (docs/architecture.md)"
    for module, names, line in _imports(path):
        for target in _target_layer(module, names):
            if target == layer or target not in RANK:
                continue
            assert RANK[target] < RANK[layer], f"{path.relative_to(REPO)}:{line} ({layer}) imports {module} ({target})"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_core_takes_only_error_types_from_the_connectors(path: Path) -> None:
    layer = _layer(path)
    if layer not in CORE:
        return
    for module, names, line in _imports(path):
        if module.split(".")[0] != "connectors":
            continue
        assert names, f"{path.relative_to(REPO)}:{line} imports the module {module} itself"
        connector = importlib.import_module(module)
        for name in names:
            obj = getattr(connector, name)
            is_error = isinstance(obj, type) and issubclass(obj, BaseException)
            assert is_error or (layer, module, name) in SENDS, (
                f"{path.relative_to(REPO)}:{line} takes {name} from {module}: only error types may cross")


@pytest.mark.parametrize("path", sorted((REPO / "connectors").rglob("*.py")), ids=lambda p: p.name)
def test_connectors_never_import_the_core(path: Path) -> None:
    for module, _names, line in _imports(path):
        assert module.split(".")[0] != "credit_exchange", f"{path.relative_to(REPO)}:{line} imports {module}"


def test_the_rules_above_can_fail() -> None:
    """The checks read real imports: a module that reached upwards would be caught."""
    assert _target_layer("credit_exchange.publish.city.push", ["CityPush"]) == ["publish"]
    assert _target_layer("credit_exchange", ["config", "alerts"]) == ["config", "alerts"]
    sample = REPO / "credit_exchange" / "standard" / "subjects.py"
    assert ("credit_exchange.standard.fields", ["FIELDS", "schema_type"]) in [(m, n) for m, n, _ in _imports(sample)]
