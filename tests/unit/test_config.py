"""The county's configuration files are checked against their schemas when loaded (issue 10, point 9)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from credit_exchange import config

SHIPPED = Path(config.__file__).resolve().parent.parent / "config"


@pytest.mark.parametrize("name", ["departments", "rules", "publication", "retention"])
def test_the_shipped_files_pass_their_schemas(name: str) -> None:
    config.load.cache_clear()
    assert isinstance(config.load(name), dict)
    assert (config.CONFIG_SCHEMAS / f"{name}.schema.json").is_file()


@pytest.fixture
def edited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of config/ the test edits; config.load reads it."""
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setattr(config, "CONFIG_DIR", folder)
    config.load.cache_clear()
    yield folder
    config.load.cache_clear()


def _replace(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def _error(name: str) -> config.ConfigError:
    with pytest.raises(config.ConfigError) as caught:
        config.load(name)
    return caught.value


def test_an_unknown_key_is_refused_with_its_file_key_and_line(edited: Path) -> None:
    line = _replace(edited / "departments.yaml", "quiet_period_seconds: 120", "quiet_period_second: 120")
    err = _error("departments")
    assert (err.line, err.key) == (line, ("departments", "police", "quiet_period_second"))
    text = str(err)
    assert f"config/departments.yaml:{line}" in text and "departments.police.quiet_period_second" in text
    assert "未知的键" in text and "unknown key" in text


@pytest.mark.parametrize(("old", "new", "key"), [
    ("page_size: 500", "page_size: many", ("departments", "transport", "page_size")),
    ("page_size: 500", "page_size: 5000", ("departments", "transport", "page_size")),
    ("stuck_after_days: 7", "stuck_after_days: [7]", ("departments", "market", "stuck_after_days")),
    ("parser: pboc_dat", "parser: pboc_xml", ("departments", "pboc", "parser")),
    ("source: rest_api", "source: soap", ("departments", "transport", "source")),
])
def test_wrong_types_and_values_are_refused_at_their_line(edited: Path, old: str, new: str, key: tuple) -> None:
    line = _replace(edited / "departments.yaml", old, new)
    err = _error("departments")
    assert (err.line, err.key) == (line, key)


def test_a_key_given_twice_and_a_broken_pattern_are_refused(edited: Path) -> None:
    path = edited / "departments.yaml"
    line = _replace(path, "    stuck_after_days: 7\n", "    stuck_after_days: 7\n    stuck_after_days: 9\n") + 1
    err = _error("departments")
    assert err.line == line and "twice" in str(err)
    shutil.copy(SHIPPED / "departments.yaml", path)
    config.load.cache_clear()
    line = _replace(path, "file_pattern: 'POLICE_FRAUD_", "file_pattern: '(POLICE_FRAUD_")
    err = _error("departments")
    assert (err.line, err.key) == (line, ("departments", "police", "file_pattern"))


def test_a_record_type_missing_from_the_field_table_is_refused_at_its_line(edited: Path) -> None:
    line = _replace(edited / "departments.yaml", "record_type: fraud_case", "record_type: fraud_cases")
    err = _error("departments")
    assert (err.line, err.key) == (line, ("departments", "police", "record_type"))
    assert "schemas/fields.json" in str(err) and "fraud_case" in str(err)
    shutil.copy(SHIPPED / "departments.yaml", edited / "departments.yaml")
    config.load.cache_clear()
    line = _replace(edited / "departments.yaml", "SHOP: online_shop_registration", "SHOP: online_shop")
    assert _error("departments").key == ("departments", "market", "kinds", "SHOP")


def test_a_department_says_how_its_units_arrive(edited: Path) -> None:
    _replace(edited / "departments.yaml", "    source: sftp_outbox_pairs\n", "")
    err = _error("departments")
    assert err.key == ("departments", "pboc") and "source" in str(err)
    assert [f.source for f in _shipped_feeds()] == ["sftp_inbox", "sftp_inbox", "rest_api", "sftp_outbox_pairs"]


def _shipped_feeds() -> list[config.Feed]:
    config.load.cache_clear()
    config.CONFIG_DIR = SHIPPED  # the fixture's monkeypatch puts the copy back afterwards
    return config.feeds()


def test_rules_and_publication_are_checked_too(edited: Path) -> None:
    line = _replace(edited / "rules.yaml", "valid_years: 3", "valid_year: 3")
    err = _error("rules")
    assert (err.line, err.key) == (line, ("black", "valid_year"))
    config.load.cache_clear()
    shutil.copy(SHIPPED / "rules.yaml", edited / "rules.yaml")
    line = _replace(edited / "rules.yaml", "within_months: 24", "within_month: 24")
    err = _error("rules")
    assert err.line == line and err.key[:3] == ("black", "rules", 4)
    line = _replace(edited / "publication.yaml", "long_period_years: 3", "long_period_years: three")
    err = _error("publication")
    assert (err.line, err.key) == (line, ("penalty", "long_period_years"))


def test_a_yaml_syntax_error_names_its_line(edited: Path) -> None:
    line = _replace(edited / "publication.yaml", "short_period_months: 3", "short_period_months: [3")
    err = _error("publication")
    assert err.line is not None and err.line >= line and "YAML" in str(err)
