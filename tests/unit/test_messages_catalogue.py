"""The message catalogue (``hub_messages``): every sentence a clerk or admin reads, in one place.

Chinese with an English gloss; the code spells no sentence of its own, which the last test checks
by reading the source with ``ast`` (docstrings and comments may stay Chinese).
"""

from __future__ import annotations

import ast
import re
import string
import sys
from pathlib import Path

import pytest

import hub_messages
from hub_messages import CATALOGUE, LABELS, TERMS, WORDS, label, text
from tests.helpers import REPO

CJK = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z]{2,}")
_FORMATTER = string.Formatter()


def _gloss(template: str) -> tuple[str, str]:
    """(what comes before the final parenthesised part, that part), ASCII brackets only, nesting allowed."""
    assert template.endswith(")"), "a template ends with its English gloss in parentheses"
    depth = 0
    for i in range(len(template) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(template[i], 0)
        if depth == 0:
            return template[:i], template[i + 1:-1]
    raise AssertionError("unbalanced parentheses")


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_template_is_chinese_with_an_english_gloss(code: str) -> None:
    before, gloss = _gloss(CATALOGUE[code])
    assert CJK.search(before), f"{code}: no Chinese before the gloss"
    assert WORD.search(gloss), f"{code}: the gloss has no English words"


@pytest.mark.parametrize("code", sorted(TERMS))
def test_every_term_is_chinese_followed_by_english(code: str) -> None:
    term = TERMS[code]
    first = CJK.search(term)
    assert first, f"{code}: no Chinese"
    assert WORD.search(term, first.end()), f"{code}: no English gloss after the Chinese"


def _literal(template: str) -> str:
    """The template without its placeholders."""
    return "".join(literal for literal, *_ in _FORMATTER.parse(template))


@pytest.mark.parametrize("code", sorted(LABELS))
def test_every_label_is_chinese_then_english_after_the_first_space(code: str) -> None:
    chinese, space, english = LABELS[code].partition(" ")
    assert space and CJK.search(chinese), f"{code}: no Chinese before the first space"
    assert not WORD.search(_literal(chinese)), f"{code}: English before the first space"
    assert WORD.search(english) and not CJK.search(english), f"{code}: the part after it is not English"


@pytest.mark.parametrize("code", sorted(WORDS))
def test_every_word_is_chinese_only(code: str) -> None:
    assert CJK.search(WORDS[code]) and not WORD.search(WORDS[code]) and "{" not in WORDS[code]


def test_codes_are_unique_across_all_tables() -> None:
    tables = [set(CATALOGUE), set(TERMS), set(LABELS), set(WORDS)]
    assert sum(map(len, tables)) == len(set().union(*tables))


@pytest.mark.parametrize("code", sorted(CATALOGUE) + sorted(TERMS) + sorted(LABELS))
def test_every_placeholder_is_a_plain_format_field(code: str) -> None:
    template = CATALOGUE.get(code) or TERMS.get(code) or LABELS[code]
    names = set()
    for _literal, name, spec, conversion in _FORMATTER.parse(template):
        if name is None:
            continue
        assert name.isidentifier(), f"{code}: {{{name}}} is not a plain name (no index, attribute, position)"
        assert conversion in (None, "r", "s", "a"), f"{code}: conversion !{conversion}"
        assert "{" not in (spec or ""), f"{code}: nested field in the format spec"
        names.add(name)
    rendered = text(code, **dict.fromkeys(names, 1))
    if "{{" not in template and "}}" not in template:
        assert "{" not in rendered and "}" not in rendered, f"{code}: a placeholder was left unfilled"


def test_text_renders_plain_format() -> None:
    assert text("max_length", label="备注", max=512) == (
        "备注超过512个字符，请缩短 (longer than 512 characters: shorten it)")
    assert text("sftp_lost", where="inbox_sftp u@h:22", detail="EOF") == (
        "与 SFTP 服务器 inbox_sftp u@h:22 的连接中断：EOF (connection lost)")
    assert text("rules_latest_shape").startswith("应为 {count, order_by, consecutive} (")  # escaped braces
    assert text("cycle_state_failed") == "失败 failed"  # a term
    # Missing parameters render as empty text; nothing is masked (message() does that).
    assert text("sftp_lost") == "与 SFTP 服务器  的连接中断： (connection lost)"
    assert "511123199001011230" in text("invalid", label="511123199001011230")
    assert text("ui_exchange") == "信用交换 Exchange" and text("type_boolean") == "是/否"  # a label, a word
    assert label("ui_rejected_recent", days=30) == ("被拒记录（近30天）", "records rejected, last 30 days")


def test_text_refuses_an_unknown_code() -> None:
    with pytest.raises(KeyError):
        text("no_such_code")


def test_the_core_reads_the_same_catalogue() -> None:
    from credit_exchange.standard import messages

    assert messages.MESSAGES is hub_messages.CATALOGUE
    assert messages.message("action_no_file", file_id=7) == text("action_no_file", file_id=7)
    assert "511123199001011230" not in messages.message("invalid", label="511123199001011230")


def test_the_catalogue_is_a_leaf() -> None:
    """It imports only the standard library, so connectors/ (never the core) can use it too."""
    for path in sorted((REPO / "hub_messages").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0 and node.module, f"{path.name}: relative import"
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {module}"


# -- no sentence outside the catalogue ---------------------------------------------------------

# Files that still spell Chinese text themselves, each for a reason.
LEFT_INLINE = {
    # Documentation, not messages: the DAGs' doc_md (English with Chinese terms of the contracts).
    "credit_exchange/runtime/ingest.py": "DAG documentation (doc_md), English with Chinese terms",
    # Code values of the data standard (they go into records), not sentences.
    "credit_exchange/standard/subjects.py": "subject categories of the data standard",
    "credit_exchange/publish/city/xsd.py": "list types of the city platform's XML",
}
# Single literals in checked files that are data, not messages: {file: {literal}}.
DATA_VALUES = {
    "credit_exchange/derive/lists.py": {
        # list types, subject categories and statuses of the data standard, and the remark a
        # moved-out list entry carries (record content sent to the platforms, Chinese only)
        "黑名单", "红名单", "法人及非法人组织", "个体工商户", "自然人", "有效", "已移出", "起不再符合", "认定条件，已移出",
    },
    "credit_exchange/publish/city/push.py": {"有效"},  # the status value of licences and list entries
    # the ID type whose number gets the GB 11643 birth-date check (a code value of id_type)
    "credit_exchange/standard/validation.py": {"身份证"},
    # wire values of the data standard (status 1/2, yes/no) and the police CSV's date form, parsed
    "credit_exchange/standard/mapping.py": {"有效", "无效", "是", "否", "([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日"},
    # penalty categories and the subject category the publicity periods depend on (config keys too)
    "credit_exchange/standard/publication.py": {"警告", "通报批评", "罚款", "自然人"},
}


def _left_inline(rel: str) -> bool:
    return any(rel == key or (key.endswith("/") and rel.startswith(key)) for key in LEFT_INLINE)


CHECKED = sorted(p for folder in ("connectors", "credit_exchange") for p in (REPO / folder).rglob("*.py")
                 if not _left_inline(p.relative_to(REPO).as_posix()))


def _documentation(tree: ast.AST) -> set[int]:
    """The ids of docstrings and other bare string statements (attribute docs)."""
    return {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_chinese_text_outside_the_catalogue(path: Path) -> None:
    rel = path.relative_to(REPO).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _documentation(tree)
    allowed = DATA_VALUES.get(rel, set())
    found = [f"{rel}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
             and CJK.search(node.value) and node.value not in allowed]
    assert not found, "Chinese text belongs in hub_messages (CATALOGUE / TERMS):\n" + "\n".join(found)


def test_the_scan_sees_what_it_should() -> None:
    """The scan covers the migrated modules, and would catch a sentence spelled inline."""
    checked = {p.relative_to(REPO).as_posix() for p in CHECKED}
    assert {"connectors/sftp.py", "connectors/http_api.py", "credit_exchange/config.py",
            "credit_exchange/derive/rules.py", "credit_exchange/web/app.py",
            "credit_exchange/web/templates.py", "credit_exchange/feeds/inbox.py",
            "credit_exchange/standard/validation.py"} <= checked
    tree = ast.parse('"""文档"""\nx = f"未知部门 (unknown department) {d!r}"\n')
    docs = _documentation(tree)
    hits = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs and CJK.search(n.value)]
    assert [h.value for h in hits] == ["未知部门 (unknown department) "]
    for key in LEFT_INLINE:
        assert (REPO / key).exists(), f"{key}: allow-listed but gone; remove it from LEFT_INLINE"


def test_the_page_templates_name_known_codes() -> None:
    """The Exchange page's templates take their texts by code: every code they name exists."""
    from credit_exchange.web import templates

    source = templates.BASE + templates.OVERVIEW + templates.DETAILS + templates.RESULT
    named = re.findall(r'\b(text|gloss)\("(\w+)"', source)
    assert len(named) > 30
    for helper, code in named:
        assert code in (LABELS if helper == "gloss" else {**CATALOGUE, **LABELS}), f"{helper}({code!r})"
