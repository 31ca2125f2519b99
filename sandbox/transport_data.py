"""Transport-bureau API items as their system serves them (contracts.md 1.3).

Used by the demo and the tests to play the department: canonical fields plus
the envelope (``id``, ``version``, ``updated_at``, ``deleted``). ``demo_items``
gives a small realistic night: courier enterprises rated for two consecutive
years (two with A/A, the red list's R1; one whose latest grade is D, the black
list's B4), violations by some of them (one 吊销许可证件, the black list's B2),
one withdrawn violation (deleted) and one bad item.

Write a seed file for ``python -m sandbox.transport_api --seed``:
``python -m sandbox.transport_data seed.json [YYYY-MM-DD]``.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from credit_exchange.timeutil import LOCAL
from sandbox.samples import REGION, make_id_number, make_uscc, person_name, valid_record

AUTHORITY_TRANSPORT = "犍为县交通运输局"
AUTHORITY_TRANSPORT_USCC = make_uscc("11", REGION, 4)

# (sample index, grade two years ago, grade last year)
ENTERPRISES: tuple[tuple[int, str, str], ...] = (
    (1, "A", "A"),   # red list (R1)
    (2, "A", "A"),   # red list (R1)
    (3, "B", "A"),
    (4, "C", "D"),   # black list (B4); also the licence revoked below (B2)
    (5, "A", "B"),
)
_SCORES = {"A": 93, "B": 82, "C": 69, "D": 47}
_VIOLATIONS_COUNT = {"A": 0, "B": 1, "C": 3, "D": 7}

# (violation no, enterprise index, categories, violation, basis, fine in 万元)
_VIOLATIONS: tuple[tuple[int, int, tuple[str, ...], str, str, float | None], ...] = (
    (1, 3, ("警告",), "未按规定执行收寄验视制度", "《快递暂行条例》第四十二条", None),
    (2, 5, ("罚款",), "未按规定落实寄递实名收寄制度", "《中华人民共和国反恐怖主义法》第八十五条", 0.5),
    (3, 4, ("吊销许可证件", "罚款"), "屡次违规收寄禁寄物品且拒不改正", "《快递暂行条例》第四十二条", 2),
    (4, 5, ("罚款",), "未按规定保护用户个人信息", "《快递暂行条例》第四十四条", 0.3),
)


def envelope(item_id: str, version: int, updated_at: datetime, deleted: bool = False) -> dict[str, Any]:
    return {"id": item_id, "version": version, "updated_at": updated_at.isoformat(timespec="seconds"),
            "deleted": deleted}


def rating_id(uscc: str, year: int) -> str:
    """Stable for an enterprise and rating year (contracts.md 1.3)."""
    return f"JTPJ-{uscc}-{year}"


def violation_id(year: int, n: int) -> str:
    return f"JTCF-{year}-{n:06d}"


def rating(i: int, year: int, grade: str, today: date) -> dict[str, Any]:
    """The rating of sample enterprise ``i`` for ``year`` (canonical fields only)."""
    rec = valid_record("courier_rating", i, today)
    rec.update(rating_year=year, grade=grade, score=_SCORES[grade] + i % 5,
               violations_count=_VIOLATIONS_COUNT[grade], status="正常")
    return rec


def violation(n: int, i: int, categories: tuple[str, ...], facts: str, basis: str, fine: float | None,
              today: date) -> dict[str, Any]:
    """A penalty decided by the transport bureau against sample enterprise ``i`` (canonical fields only)."""
    enterprise = valid_record("courier_rating", i, today)
    base = valid_record("administrative_penalty", n, today)
    decided = date.fromisoformat(base["decision_date"])
    content = "、".join(categories)
    rec: dict[str, Any] = {
        "subject_name": enterprise["enterprise_name"],
        "subject_category": "法人及非法人组织",
        "uscc": enterprise["uscc"],
        "legal_rep_name": person_name(i + 40),
        "legal_rep_id_type": "身份证",
        "legal_rep_id_number": make_id_number(i + 40, today),
        "decision_no": f"犍交运罚〔{decided.year}〕{n + 20}号",
        "violation_type": facts,
        "violation_facts": f"经查，当事人在快递业务经营活动中存在{facts}的行为，违反了{basis}的规定。",
        "legal_basis": basis,
        "penalty_categories": list(categories),
        "penalty_content": content,
        "decision_date": base["decision_date"],
        "valid_until": base["valid_until"],
        "authority": AUTHORITY_TRANSPORT,
        "authority_uscc": AUTHORITY_TRANSPORT_USCC,
        "source_unit": AUTHORITY_TRANSPORT,
        "source_unit_uscc": AUTHORITY_TRANSPORT_USCC,
    }
    if fine is not None:
        rec["fine_amount"] = fine
        rec["penalty_content"] = f"{content}；罚款人民币{int(fine * 10000)}元"
    if "吊销许可证件" in categories:
        rec["suspended_licence"] = f"快递业务经营许可证 {enterprise['licence_no']}"
    return rec


def demo_items(today: date, at: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """One realistic night of the transport API, valid for run date ``today``.

    The items change from ``at`` on (``updated_at``; by default 17:00 the day before): a caller
    whose hub has already pulled passes the present, as the live API stamps what changes after.
    """
    at = at or datetime.combine(today - timedelta(days=1), time(17, 0), LOCAL)
    enterprises: list[dict[str, Any]] = []
    for k, (i, older, latest) in enumerate(ENTERPRISES):
        for j, (year, grade) in enumerate(((today.year - 2, older), (today.year - 1, latest))):
            rec = rating(i, year, grade, today)
            enterprises.append(envelope(rating_id(rec["uscc"], year), 1, at + timedelta(minutes=2 * k + j)) | rec)
    violations: list[dict[str, Any]] = []
    for m, (n, i, categories, facts, basis, fine) in enumerate(_VIOLATIONS):
        rec = violation(n, i, categories, facts, basis, fine, today)
        violations.append(envelope(violation_id(today.year, n), 1, at + timedelta(minutes=30 + m)) | rec)
    # A decision withdrawn by review (行政复议撤销): the department deletes it.
    violations.append(envelope(violation_id(today.year - 1, 9), 2, at + timedelta(minutes=40), deleted=True))
    # A bad item: a misspelt key, so the fine 罚款 requires is missing too.
    bad = violation(5, 3, ("罚款",), "未按规定对快件进行安全检查", "《快递暂行条例》第四十六条", 0.2, today)
    bad["fine_amout"] = bad.pop("fine_amount")
    violations.append(envelope(violation_id(today.year, 5), 1, at + timedelta(minutes=41)) | bad)
    return {"courier-enterprises": enterprises, "courier-violations": violations}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m sandbox.transport_data SEED.json [YYYY-MM-DD]", file=sys.stderr)
        return 2
    today = date.fromisoformat(args[1]) if len(args) > 1 else datetime.now(LOCAL).date()
    Path(args[0]).write_text(json.dumps(demo_items(today), ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
