"""``qianwei-hub`` itself (credit_exchange/admin/cli.py): usage, and a failure no subcommand foresaw."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from credit_exchange.admin import cli
from hub_messages import text

ID_NUMBER = "11010519491231002X"


def _failing_module(exc: Exception) -> types.ModuleType:
    module = types.ModuleType("credit_exchange.admin._failing")

    def run(args: Any) -> int:
        raise exc

    def register(subparsers: Any) -> None:
        subparsers.add_parser("boom").set_defaults(func=run)

    module.register = register  # type: ignore[attr-defined]
    return module


@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "credit_exchange.admin._failing",
                        _failing_module(ValueError(f"bad value for {ID_NUMBER}\nsecond line")))
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "_failing"))
    monkeypatch.delenv("QW_DEBUG", raising=False)


def test_an_unforeseen_failure_is_one_clear_masked_line_and_exit_1(boom: None, capsys: pytest.CaptureFixture[str]
                                                                   ) -> None:
    assert cli.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(text("cli_unexpected", detail="").split("：")[0])
    assert "ValueError" in err and "Traceback" not in err and "second line" not in err
    assert ID_NUMBER not in err and "1101" in err  # masked, still recognisable


def test_qw_debug_shows_the_traceback(boom: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QW_DEBUG", "1")
    with pytest.raises(ValueError):
        cli.main(["boom"])


def test_no_subcommand_prints_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    out = capsys.readouterr().out
    assert text("cli_description") in out
    for name in ("check", "status", "alerts", "requeue", "resend", "lineage", "replay", "rotate-key"):
        assert name in out
