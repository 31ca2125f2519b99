"""The county's editable configuration (``config/*.yaml``), checked and loaded once per process.

Each file is checked against its JSON Schema (``schemas/config/{name}.schema.json``) when it is
loaded: unknown keys, wrong types and impossible values are refused with an error that names
the file, the key and its line, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from hub_messages import text

CONFIG_DIR = Path(os.environ.get("HUB_CONFIG_DIR", Path(__file__).resolve().parent.parent / "config"))
CONFIG_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "config"
FIELD_TABLE = Path(__file__).resolve().parent.parent / "schemas" / "fields.json"

Key = tuple[str | int, ...]


class ConfigError(ValueError):
    """A configuration file the hub refuses: which file, which key, which line, and why."""

    def __init__(self, path: Path, line: int | None, key: Key, problem: str) -> None:
        self.path, self.line, self.key, self.problem = path, line, key, problem
        where = f"{path.parent.name}/{path.name}" + (f":{line}" if line else "")
        dotted = _dotted(key)
        super().__init__(f"{where}: {dotted + ': ' if dotted else ''}{text('config_error')}: {problem}")


def _dotted(key: Key) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else str(k)) for i, k in enumerate(key))


def _read(path: Path) -> tuple[Any, dict[Key, int]]:
    """The YAML document and the line of every key in it; a key given twice is refused."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, (), text("config_unreadable") + f": {exc}") from exc
    loader = yaml.SafeLoader(source)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(path, 1, (), text("config_empty"))
        lines: dict[Key, int] = {}
        _lines(path, node, (), lines)
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(path, mark.line + 1 if mark else None, (),
                          text("config_yaml_syntax") + f": {getattr(exc, 'problem', exc)}") from exc
    finally:
        loader.dispose()


def _lines(path: Path, node: yaml.Node, key: Key, out: dict[Key, int]) -> None:
    out.setdefault(key, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for k, v in node.value:
            name = k.value
            if name in seen:
                raise ConfigError(path, k.start_mark.line + 1, (*key, name),
                                  text("config_duplicate_key"))
            seen.add(name)
            out[(*key, name)] = k.start_mark.line + 1
            _lines(path, v, (*key, name), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(path, item, (*key, i), out)


def _schema_errors(path: Path, data: Any, lines: dict[Key, int], schema: dict[str, Any]) -> list[ConfigError]:
    from jsonschema import Draft202012Validator

    errors: list[ConfigError] = []
    for err in sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        at: Key = tuple(err.absolute_path)
        if err.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(err.instance, dict):
            names = re.findall(r"'([^']*)'", err.message.rsplit("(", 1)[-1])
            for name in names or ["?"]:
                key = (*at, name)
                errors.append(ConfigError(path, lines.get(key, lines.get(at)), key,
                                          text("config_unknown_key")))
            continue
        if err.validator == "required":
            problem = text("config_required") + f": {err.message.split(' is a required')[0]}"
        elif err.validator == "type":
            problem = text("config_type") + f": {err.message}"
        elif err.validator in ("enum", "const"):
            problem = text("config_enum") + f": {err.message}"
        elif err.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems",
                               "minProperties", "minLength", "maxLength"):
            problem = text("config_range") + f": {err.message}"
        elif err.validator == "pattern":
            problem = text("config_pattern") + f": {err.message}"
        else:
            problem = text("config_other") + f": {err.message[:300]}"
        errors.append(ConfigError(path, lines.get(at), at, problem))
    return errors


@cache
def load(name: str) -> dict[str, Any]:
    """``config/{name}.yaml``, checked against its schema; ``ConfigError`` names the first problem's line."""
    path = CONFIG_DIR / f"{name}.yaml"
    data, lines = _read(path)
    if not isinstance(data, dict):
        raise ConfigError(path, 1, (), text("config_not_mapping"))
    schema_path = CONFIG_SCHEMAS / f"{name}.schema.json"
    if schema_path.exists():
        errors = _schema_errors(path, data, lines, json.loads(schema_path.read_text(encoding="utf-8")))
        if errors:
            first = errors[0]
            more = "".join(f"\n  - {e}" for e in errors[1:10])
            raise ConfigError(first.path, first.line, first.key, first.problem + more)
    if name == "departments":
        for dept, raw in data["departments"].items():
            try:
                re.compile(raw["file_pattern"], re.ASCII)
            except re.error as exc:
                key = ("departments", dept, "file_pattern")
                raise ConfigError(path, lines.get(key), key, text("config_bad_regex") + f": {exc}") from exc
        _check_record_types(path, data, lines)
    return data


def department_record_types() -> frozenset[str]:
    """The record types departments send: those of ``schemas/fields.json`` that the hub does not derive."""
    table = json.loads(FIELD_TABLE.read_text(encoding="utf-8"))["record_types"]
    return frozenset(rt for rt, spec in table.items() if spec.get("feed") != "derived")


def _check_record_types(path: Path, data: dict[str, Any], lines: dict[Key, int]) -> None:
    """Every record type a department names has its block in the field table (docs/data-standard.md 1)."""
    known = department_record_types()
    for dept, raw in data["departments"].items():
        named: list[tuple[Key, Any]] = [(("departments", dept, "record_type"), raw.get("record_type"))]
        for group in ("kinds", "endpoints"):
            named += [(("departments", dept, group, k), v) for k, v in (raw.get(group) or {}).items()]
        for key, record_type in named:
            if record_type is not None and record_type not in known:
                problem = text("config_unknown_record_type", record_type=record_type)
                raise ConfigError(path, lines.get(key), key, problem + f": {', '.join(sorted(known))}")


@dataclass(frozen=True)
class RejectThreshold:
    """Above this many (or this share of) rejected records a file is refused whole."""

    count: int | None = None
    share: float | None = None
    min_records: int = 0

    def exceeded(self, rejected: int, total: int) -> bool:
        if total < self.min_records:
            return False
        if self.count is not None and rejected > self.count:
            return True
        return self.share is not None and total > 0 and rejected / total > self.share

    def describe(self) -> str:
        parts = []
        if self.count is not None:
            parts.append(text("config_threshold_count", count=self.count))
        if self.share is not None:
            parts.append(f"{self.share:.0%}")
        return " / ".join(parts)


@dataclass(frozen=True)
class Feed:
    """How one department delivers: where its files are and what they are named."""

    department: str
    label: str
    connection: str
    root: str
    file_pattern: re.Pattern[str]
    parser: str
    max_file_bytes: int
    # How its units arrive (docs/contracts.md 1): sftp_inbox (files it drops), sftp_outbox_pairs
    # (data + control file pairs on its own read-only server), rest_api (pulled over REST).
    source: str = "sftp_inbox"
    kinds: dict[str, str] = field(default_factory=dict)
    record_type: str | None = None
    reject_threshold: RejectThreshold = RejectThreshold()
    options: dict[str, Any] = field(default_factory=dict)

    def folder(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def match_name(self, name: str) -> re.Match[str] | None:
        """The contract's pattern against the whole name (ASCII classes: ``\\d`` is 0-9 only)."""
        return self.file_pattern.fullmatch(name)


def watched_inboxes() -> dict[str, dict[str, str]]:
    """Departments whose inbox is watched in office hours: {department: {path, pattern, schedule, connection}}."""
    out = {}
    for dept, raw in load("departments")["departments"].items():
        watch = raw.get("watch")
        if watch:
            root = raw.get("root", f"/{dept}").rstrip("/")
            out[dept] = {"path": f"{root}/inbox", "pattern": watch["pattern"], "schedule": watch["schedule"],
                         "connection": raw["connection"]}
    return out


@cache
def pools() -> dict[str, dict[str, Any]]:
    """``config/pools.json``: Airflow's pools, one per remote server (the ``airflow pools import`` format)."""
    data = json.loads((CONFIG_DIR / "pools.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ConfigError(CONFIG_DIR / "pools.json", 1, (), text("config_not_mapping"))
    return data


def departments() -> tuple[str, ...]:
    """Every department of ``config/departments.yaml``, in the file's order."""
    return tuple(load("departments")["departments"])


def feeds() -> list[Feed]:
    return [feed(d) for d in departments()]


def feed(department: str) -> Feed:
    raw = load("departments")["departments"][department]
    thr = raw.get("reject_threshold") or {}
    return Feed(
        department=department,
        label=raw["label"],
        connection=raw["connection"],
        root=raw.get("root", f"/{department}"),
        file_pattern=re.compile(raw["file_pattern"], re.ASCII),
        parser=raw["parser"],
        source=raw["source"],
        max_file_bytes=int(raw.get("max_file_bytes", 2 * 1024**3)),
        kinds=dict(raw.get("kinds") or {}),
        record_type=raw.get("record_type"),
        reject_threshold=RejectThreshold(
            count=thr.get("count"), share=thr.get("share"), min_records=int(thr.get("min_records", 0))
        ),
        options={k: v for k, v in raw.items() if k not in {
            "label", "connection", "root", "file_pattern", "parser", "source", "max_file_bytes", "kinds",
            "record_type", "reject_threshold"}},
    )
