"""A province-size night: N credit records across the four department feeds, for benchmarks.

``write_night(info, day, at, n)`` plays every department at once, at scale, straight into
the stand-ins' data directories (``info`` is ``DIR/standins.json``, see sandbox/standins.py):

- market XML files into the inbox sshd's data root, where its SFTP server serves
  ``/market/inbox``; police GB18030 (some UTF-8 with a BOM) CSV files where it serves
  ``/police/inbox``. Each file is written under a ``.tmp`` name (outside the file
  pattern: the hub leaves it alone), dated an hour back (past any quiet period) and
  renamed to its final name in one step;
- PBoC data/control pairs into ``pboc_data/outbox`` (``sandbox.pboc_files``);
- transport items POSTed to the transport sandbox's ``/_sandbox/items`` in chunks.

The mix (``plan``): market 70% (licences 25%, penalties 25%, abnormal operation 10%,
online shops 10%), PBoC 15%, police 8%, transport 7% (violations 4%, enterprise
ratings 3%). About 2% of the records of every file carry one realistic mistake
(``sandbox.market_files.break_record``, ``sandbox.police_files.break_case`` and the
like), spread evenly over each file, so no file comes near the 50% that refuses it whole.

Records are distinct: ids from the per-type index (``sandbox.samples.valid_record``,
offset by the seed), subjects from a registry of this module with a valid USCC or ID
number each (check characters by ``credit_exchange.standard.checks``), always the same
name for the same key, unique for well beyond a million records. Everything streams:
one record at a time into the open file (one PBoC data file is held to hash it).

``changed_share`` writes the *second* night instead: the same records as the first night
of the same seed and ``n`` (generated exactly as then, from ``first_day``, by default the
day before ``day``), but only that share of them, each with changed content and a higher
version, as departments send their increments.

``python -m sandbox.night --state DIR --n 100000 [--day YYYY-MM-DD]`` against running stand-ins.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from credit_exchange.standard import checks
from credit_exchange.standard.fields import FIELDS
from credit_exchange.standard.mapping import to_national
from credit_exchange.timeutil import LOCAL
from sandbox import market_files, pboc_files, police_files, transport_data
from sandbox.samples import AUTHORITY_MARKET, make_uscc, person_name, valid_record

# --- the mix ------------------------------------------------------------------------------

# (feed, type) -> share of N. Market types are the file kinds, transport types the endpoints.
SHARES: dict[tuple[str, str], float] = {
    ("market", "LICENSE"): 0.25,
    ("market", "PENALTY"): 0.25,
    ("market", "ABNORMAL"): 0.10,
    ("market", "SHOP"): 0.10,
    ("pboc", "payment_risk_event"): 0.15,
    ("police", "fraud_case"): 0.08,
    ("transport", "courier-violations"): 0.04,
    ("transport", "courier-enterprises"): 0.03,
}
FEEDS = ("market", "police", "pboc", "transport")
# Most records in one file, and the highest sequence number a file name can carry (per type and day).
MAX_RECORDS_PER_FILE = {"market": 50_000, "police": 20_000, "pboc": 50_000}
MAX_SEQ = {"market": 999, "police": 99, "pboc": 99}
TRANSPORT_CHUNK = 2_000  # items per POST to the transport sandbox
# One record in each block of DEFECT_EVERY of a file is written with a mistake (2%), at a hashed place.
DEFECT_EVERY = 50
# Record ids of seed s start at (s - 1) * SEED_SPAN + 1, so nights of different seeds never share ids.
SEED_SPAN = 10_000_000
MARKET_RECORD_TYPES = market_files.KIND_TYPES
TRANSPORT_RECORD_TYPES = {"courier-violations": "administrative_penalty", "courier-enterprises": "courier_rating"}


def _split(n: int) -> dict[tuple[str, str], int]:
    """N over the types by ``SHARES``, rounded by largest remainder so the counts add up to N."""
    exact = {key: n * share for key, share in SHARES.items()}
    counts = {key: math.floor(v) for key, v in exact.items()}
    left = n - sum(counts.values())
    for key in sorted(exact, key=lambda k: (counts[k] - exact[k], list(SHARES).index(k)))[:left]:
        counts[key] += 1
    return counts


def _file_sizes(count: int, limit: int) -> list[int]:
    """``count`` records in as few files as ``limit`` allows, sizes as even as can be."""
    if count <= 0:
        return []
    files = -(-count // limit)
    base, extra = divmod(count, files)
    return [base + 1 if k < extra else base for k in range(files)]


def _check_seq(feed: str, type_name: str, first_seq: int, files: int) -> None:
    last = first_seq + files - 1
    if files and last > MAX_SEQ[feed]:
        raise ValueError(
            f"{feed} {type_name}: {files} files needed (sequence {first_seq}..{last}), but its file names "
            f"carry {len(str(MAX_SEQ[feed]))}-digit sequence numbers (at most {MAX_SEQ[feed]} files a day, "
            f"{MAX_SEQ[feed] * MAX_RECORDS_PER_FILE[feed]:,} records); ask for fewer records")


def plan(n: int) -> dict[str, Any]:
    """How N records split over the feeds, their record types and files.

    ``{"n", "feeds": {feed: {"records", "share", "files", "types": {type: {"record_type",
    "records", "share", "files": [records of each file]}}}}}``; transport has no files but
    ``posts`` (chunks of ``TRANSPORT_CHUNK`` items). Raises ValueError when a feed needs more
    files than its file name's sequence number allows.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    counts = _split(n)
    feeds: dict[str, Any] = {
        feed: {"records": 0, "share": 0.0, "files": 0, "types": {}} for feed in FEEDS}
    for (feed, type_name), count in counts.items():
        entry: dict[str, Any] = {"records": count, "share": SHARES[(feed, type_name)]}
        if feed == "transport":
            entry["record_type"] = TRANSPORT_RECORD_TYPES[type_name]
            entry["posts"] = -(-count // TRANSPORT_CHUNK)
        else:
            entry["record_type"] = MARKET_RECORD_TYPES[type_name] if feed == "market" else type_name
            entry["files"] = _file_sizes(count, MAX_RECORDS_PER_FILE[feed])
            _check_seq(feed, type_name, 1, len(entry["files"]))
            feeds[feed]["files"] += len(entry["files"])
        feeds[feed]["types"][type_name] = entry
        feeds[feed]["records"] += count
        feeds[feed]["share"] = round(feeds[feed]["share"] + SHARES[(feed, type_name)], 6)
    return {"n": n, "feeds": feeds}


# --- subjects -----------------------------------------------------------------------------

# Counties of Leshan (region code, name) for organisations and birthplaces.
_COUNTIES = (("511123", "犍为县"), ("511102", "乐山市市中区"), ("511111", "乐山市沙湾区"),
             ("511112", "乐山市五通桥区"), ("511181", "峨眉山市"), ("511124", "井研县"),
             ("511126", "夹江县"), ("511129", "沐川县"))
_BRAND_CHARS = "".join(dict.fromkeys("嘉禾清溪罗城芭沟玉津铁山岷江龙孔孝姑寿保金石新民沉犀九双舞雩茉莉香宏达盛鑫源汇丰瑞祥泰安华兴"))
_TRADES = ("电子商务", "农业科技", "茶业", "食品", "物流", "建材", "商贸", "餐饮管理", "网络科技", "酒业",
           "农副产品", "文化传媒")
_TOWNS = ("玉津镇", "孝姑镇", "石溪镇", "清溪镇", "罗城镇", "铁山镇", "芭沟镇", "龙孔镇", "新民镇", "寿保乡")
_SHOP_KINDS = ("小吃店", "便利店", "茶叶店", "农资店", "五金店", "土特产店", "服装店", "手机店")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙胡朱高罗郑梁谢宋"
_GIVEN_CHARS = "建国秀英志强丽华俊杰婷磊晓燕德明雪梅海涛桂兰子涵浩然文静平"
# sandbox.samples.make_uscc scrambles n by a bijection of the 31^8 organisation codes: distinct below that.
_ORG_CODE_SPACE = 31**8
# GB 11643 numbers: birth dates over _BIRTH_DAYS days from _BIRTH_FROM, 8 regions, 1000 sequence codes.
_BIRTH_FROM = date(1945, 1, 1).toordinal()
_BIRTH_DAYS = 18_000  # to 1994-04: every person is an adult on any day after 2012
_ID_SPACE = len(_COUNTIES) * _BIRTH_DAYS * 1000
_PLACEHOLDER_USCC = checks.USCC_PLACEHOLDER
# Multipliers spreading record indices over the subject pool (primes, coprime to any pool size here).
_SPREAD = (1_000_003, 1_000_033, 1_000_037, 1_000_039, 1_000_081, 1_000_099, 1_000_117, 1_000_121)


def id_number(n: int) -> str:
    """A valid 18-digit ID number, a different one for each n below ``_ID_SPACE`` (144 million):
    ``sandbox.samples.make_id_number`` repeats every 17,000 n, too few for a province."""
    if not 0 <= n < _ID_SPACE:
        raise ValueError(f"id_number takes 0 <= n < {_ID_SPACE}")
    m, seq = divmod(n, 1000)
    m, region = divmod(m, len(_COUNTIES))
    born = date.fromordinal(_BIRTH_FROM + (m * 3571) % _BIRTH_DAYS)
    first17 = f"{_COUNTIES[region][0]}{born:%Y%m%d}{seq:03d}"
    return first17 + checks.id_check_char(first17)


def _mixed(k: int, *radices: int) -> tuple[list[int], int]:
    digits = []
    for r in radices:
        k, d = divmod(k, r)
        digits.append(d)
    return digits, k


def _org_name(k: int, trade: str | None = None) -> tuple[str, str]:
    """(name, region) of organisation k: a different name for every k."""
    nb = len(_BRAND_CHARS)
    (county, b1, b2, t), rest = _mixed(k, len(_COUNTIES), nb, nb, 1 if trade else len(_TRADES))
    region, place = _COUNTIES[county]
    name = f"{place}{_BRAND_CHARS[b1]}{_BRAND_CHARS[b2]}{trade or _TRADES[t]}有限公司"
    return (name if rest == 0 else f"{name}第{rest + 1}分公司"), region


def _business_name(k: int) -> str:
    (town, s, g1, kind), rest = _mixed(k, len(_TOWNS), len(_SURNAMES), len(_GIVEN_CHARS), len(_SHOP_KINDS))
    name = f"犍为县{_TOWNS[town]}{_SURNAMES[s]}{_GIVEN_CHARS[g1]}记{_SHOP_KINDS[kind]}"
    return name if rest == 0 else f"{name}（{rest + 1}号店）"


# --- one night's records ------------------------------------------------------------------

_LICENCE_SUBJECT = ("subject_name", "subject_category", "uscc", "business_reg_no", "org_code", "legal_rep_name",
                    "legal_rep_id_type", "legal_rep_id_number", "id_type", "id_number")
_REG_NO_PREFIX = "511123"
_ORG, _BUSINESS, _REGNO, _PERSON, _HK = "org", "business", "regno", "person", "hk"
_RULES_OF_VIOLATIONS = (
    (("警告",), "未按规定执行收寄验视制度", "《快递暂行条例》第四十二条", None),
    (("罚款",), "未按规定落实寄递实名收寄制度", "《中华人民共和国反恐怖主义法》第八十五条", 0.5),
    (("罚款",), "未按规定保护用户个人信息", "《快递暂行条例》第四十四条", 0.3),
    (("警告", "罚款"), "未按规定对快件进行安全检查", "《快递暂行条例》第四十六条", 0.2),
    (("罚款",), "经营快递业务未按规定备案分支机构", "《快递市场管理办法》第四十五条", 1),
    (("吊销许可证件", "罚款"), "屡次违规收寄禁寄物品且拒不改正", "《快递暂行条例》第四十二条", 2),
)
_GRADES = ("A", "A", "B", "B", "C", "D")
_FILED = FIELDS.by_name("fraud_case")["filed_date"].code


class _Night:
    """The records of one night of one seed: every record a pure function of (type, index)."""

    def __init__(self, n: int, seed: int, base_day: date, run_day: date) -> None:
        if not 1 <= seed <= 1000:
            raise ValueError("seed must be 1..1000")
        self.plan = plan(n)
        self.seed = seed
        self.base = base_day  # the day the records were first sent (ids and content come from it)
        self.run_day = run_day
        self.offset = (seed - 1) * SEED_SPAN
        types = self.plan["feeds"]
        counts = [t["records"] for f in ("market", "police", "pboc") for t in types[f]["types"].values()]
        pool = max(counts + [1])
        while any(math.gcd(pool, a) != 1 for a in _SPREAD):
            pool += 1
        self.pool = pool  # organisations, businesses and persons: indices 0..pool-1 of each
        ratings = types["transport"]["types"]["courier-enterprises"]["records"]
        self.enterprises = max(1, -(-ratings // 2))  # each rated for the last two years
        if 2 * pool + self.enterprises >= _ID_SPACE or 1_000 + pool + self.enterprises >= _ORG_CODE_SPACE:
            raise ValueError(f"{n:,} records need more distinct subjects than the registry makes")
        self.a = {name: _SPREAD[k] for k, name in enumerate(
            ("LICENSE", "PENALTY", "ABNORMAL", "SHOP", "fraud_case", "payment_risk_event", "courier-violations"))}
        self.b = {name: (seed * 104_729 + k * 7_919) % pool for k, name in enumerate(self.a)}

    # -- subjects

    def _k(self, type_name: str, i: int) -> int:
        return (i * self.a[type_name] + self.b[type_name]) % self.pool

    @staticmethod
    def _kind(i: int, *, regno: bool, persons: bool) -> str:
        r = i % 5
        if r <= 2:
            return _ORG
        if r == 3:
            return _REGNO if regno and i % 20 == 3 else _BUSINESS
        if not persons:
            return _ORG
        return _HK if i % 20 == 4 else _PERSON

    def subject(self, kind: str, k: int) -> dict[str, Any]:
        """Subject fields (canonical names, as in a licence) of subject k of a kind: always the same."""
        if kind == _ORG:
            name, region = _org_name(k)
            uscc = make_uscc("91", region, 1_000 + k)
            return {"subject_name": name, "subject_category": "法人及非法人组织", "uscc": uscc,
                    "org_code": f"{uscc[8:16]}-{uscc[16]}", "legal_rep_name": person_name(self.pool + k),
                    "legal_rep_id_type": "身份证", "legal_rep_id_number": id_number(self.pool + k)}
        if kind == _BUSINESS:
            return {"subject_name": _business_name(k), "subject_category": "个体工商户",
                    "uscc": make_uscc("92", "511123", 1_000 + k), "legal_rep_name": person_name(k * 3 + 1)}
        if kind == _REGNO:  # registered before USCCs: the placeholder and its 工商注册号
            return {"subject_name": _business_name(self.pool + k), "subject_category": "个体工商户",
                    "uscc": _PLACEHOLDER_USCC, "business_reg_no": f"{_REG_NO_PREFIX}{600_000_000 + k:09d}",
                    "legal_rep_name": person_name(k * 3 + 2)}
        if kind == _HK:
            return {"subject_name": person_name(k * 7 + 3), "subject_category": "自然人",
                    "id_type": "港澳居民来往内地通行证", "id_number": f"H{(k * 7_919 + 13) % 10**8:08d}"}
        return {"subject_name": person_name(k), "subject_category": "自然人", "id_type": "身份证",
                "id_number": id_number(k)}

    def courier(self, e: int) -> dict[str, Any]:
        """Courier enterprise e (its own organisations, after the pool's)."""
        name, region = _org_name(e, "快递")
        return {"name": name, "uscc": make_uscc("91", region, 1_000 + self.pool + e),
                "legal_rep_name": person_name(2 * self.pool + e),
                "legal_rep_id_number": id_number(2 * self.pool + e)}

    # -- records: (id, version, canonical data) of index i (1-based) of a type

    def market(self, kind: str, i: int) -> tuple[str, int, dict[str, Any]]:
        src = self.offset + i
        data = valid_record(MARKET_RECORD_TYPES[kind], src, self.base)
        k = self._k(kind, i)
        if kind == "ABNORMAL":
            subject = self.subject(_ORG, k)
            data["subject_name"], data["uscc"] = subject["subject_name"], subject["uscc"]
        elif kind == "SHOP":
            subject = self.subject(self._kind(src, regno=False, persons=True), k)
            for key in ("operator_name", "subject_category", "uscc", "id_type", "id_number"):
                data.pop(key, None)
            data["operator_name"] = subject.pop("subject_name")
            data.update({key: subject[key] for key in ("subject_category", "uscc", "id_type", "id_number")
                         if key in subject})
        else:
            for key in _LICENCE_SUBJECT:
                data.pop(key, None)
            data.update(self.subject(self._kind(src, regno=True, persons=True), k))
        return market_files.record_id(kind, self.base.year, src), 1, data

    def fraud(self, i: int) -> tuple[str, int, dict[str, Any]]:
        src = self.offset + i
        data = valid_record("fraud_case", src, self.base)
        for key in ("subject_name", "subject_category", "uscc", "id_type", "id_number"):
            data.pop(key, None)
        subject = self.subject(self._kind(src, regno=False, persons=True), self._k("fraud_case", i))
        data.update({key: subject[key] for key in ("subject_name", "subject_category", "uscc", "id_type",
                                                   "id_number") if key in subject})
        return data["case_no"], 1, data

    def payment(self, i: int) -> tuple[str, int, dict[str, Any]]:
        src = self.offset + i
        data = valid_record("payment_risk_event", src, self.base)
        subject = self.subject(_ORG if src % 3 else _BUSINESS, self._k("payment_risk_event", i))
        data["merchant_name"], data["merchant_uscc"] = subject["subject_name"], subject["uscc"]
        return data["event_id"], 1, data

    def rating(self, i: int) -> tuple[str, int, dict[str, Any]]:
        e, older = divmod(i - 1, 2)
        year = self.base.year - 1 - older
        grade = _GRADES[(e * 31 + older * 7 + self.seed) % len(_GRADES)]
        data = transport_data.rating(self.offset + e, year, grade, self.base)
        who = self.courier(e)
        data.update(enterprise_name=who["name"], uscc=who["uscc"], licence_no=f"川{2015 + e % 10}{e:06d}",
                    status="停业" if e % 13 == 0 else "正常")
        return transport_data.rating_id(who["uscc"], year), 1, data

    def violation(self, i: int) -> tuple[str, int, dict[str, Any]]:
        src = self.offset + i
        categories, facts, basis, fine = _RULES_OF_VIOLATIONS[(src * 7 + 3) % len(_RULES_OF_VIOLATIONS)]
        data = transport_data.violation(src, 1, categories, facts, basis, fine, self.base)
        e = (i * self.a["courier-violations"] + self.b["courier-violations"]) % self.enterprises
        who = self.courier(e)
        data.update(subject_name=who["name"], uscc=who["uscc"], legal_rep_name=who["legal_rep_name"],
                    legal_rep_id_number=who["legal_rep_id_number"])
        if "吊销许可证件" in categories:
            data["suspended_licence"] = f"快递业务经营许可证 川{2015 + e % 10}{e:06d}"
        return transport_data.violation_id(self.base.year, src), 1, data

    def record(self, feed: str, type_name: str, i: int) -> tuple[str, int, dict[str, Any]]:
        if feed == "market":
            return self.market(type_name, i)
        if feed == "police":
            return self.fraud(i)
        if feed == "pboc":
            return self.payment(i)
        return self.violation(i) if type_name == "courier-violations" else self.rating(i)

    # -- the second night's change of a record

    def changed(self, feed: str, type_name: str, i: int) -> tuple[str, int, dict[str, Any]]:
        """Record i as the department sends it again: new content, the next version."""
        rec_id, version, data = self.record(feed, type_name, i)
        data = _change(feed, type_name, data, self.base, i)
        return rec_id, version + 1, data


def _wan_plus(value: float | int, cents: int) -> int | float:
    d = Decimal(str(value)) + Decimal(cents) / 100
    return int(d) if d == d.to_integral_value() else float(d)


def _fine_text(categories: list[str], fine: int | float) -> str:
    return f"{'、'.join(categories)}；罚款人民币{(Decimal(str(fine)) * 10000).normalize():f}元"


def _change(feed: str, type_name: str, data: dict[str, Any], base: date, i: int) -> dict[str, Any]:
    """A realistic correction of a record (dates never after ``base``, the first night's day)."""
    data = dict(data)
    if type_name == "LICENSE":  # a later decision: the licence renewed or its scope changed
        data["decision_date"] = data["valid_from"] = base.isoformat()
        if data["valid_to"] != "2099-12-31":
            data["valid_to"] = base.replace(year=base.year + 5, day=min(base.day, 28)).isoformat()
        data["remark"] = "许可事项变更，重新核发"
    elif type_name in {"PENALTY", "courier-violations"}:
        if "fine_amount" in data:  # a new fine after review
            data["fine_amount"] = _wan_plus(data["fine_amount"], 5)
            data["penalty_content"] = _fine_text(data["penalty_categories"], data["fine_amount"])
        else:  # a corrected text
            data["violation_facts"] = data["violation_facts"] + "（经复核更正事实表述）"
        data["remark"] = "经行政复议变更"
    elif type_name == "ABNORMAL":
        if not data.get("removed_date"):
            data.update(removed_reason="已在责令期限内补报年度报告并公示", removed_date=base.isoformat(),
                        removed_by=AUTHORITY_MARKET)
        else:
            data["removed_reason"] = "补报了未报年份的年度报告并公示（更正）"
    elif type_name == "SHOP":
        data["business_scope"] = data["business_scope"] + "、预包装食品网络销售"
        data["status"] = "注销" if data["status"] == "正常" and i % 4 == 0 else data["status"]
    elif feed == "police":
        if not data.get("closed_date"):
            data["closed_date"] = base.isoformat()
            data["outcome"] = "批评教育并责令改正"
        else:
            data["outcome"] = data["outcome"] + "（已执行完毕）"
        data["remark"] = "案件状态更新"
    elif feed == "pboc":
        data["action_taken"] = "终止服务" if data["action_taken"] != "终止服务" else "暂停支付"
        data["remark"] = "收单机构升级处置措施"
    elif type_name == "courier-enterprises":
        data["score"] = round(float(data["score"]) + 0.5, 1) if data["score"] <= 99 else data["score"] - 1
        data["violations_count"] = data["violations_count"] + 1
    return data


# --- defects ------------------------------------------------------------------------------

MARKET_DEFECTS = {
    "LICENSE": ("uscc_checksum", "missing_required", "future_date", "date_order", "id_15_digits"),
    "PENALTY": ("uscc_checksum", "missing_required", "fine_missing", "future_date", "id_15_digits"),
    "ABNORMAL": ("uscc_checksum", "missing_required", "removed_without_reason"),
    "SHOP": ("uscc_checksum", "missing_required", "id_15_digits"),
}
POLICE_DEFECTS = ("id_checksum", "uscc_checksum", "id_15_digits", "date_form", "closed_before_filed", "status")
PBOC_DEFECTS = ("risk_level", "uscc_checksum", "columns", "impossible_date", "amount_negative")
TRANSPORT_DEFECTS = {
    "courier-violations": ("misspelt_key", "uscc_checksum", "missing_required", "future_date"),
    "courier-enterprises": ("grade", "score", "uscc_checksum", "missing_required"),
}


def _wrong_check_char(value: str) -> str:
    return value[:-1] + ("1" if value[-1] != "1" else "2")


def _eligible(feed: str, how: str, data: dict[str, Any]) -> bool:
    if how == "uscc_checksum":
        if feed == "market":
            return data.get("uscc") not in (None, _PLACEHOLDER_USCC) or "authority_uscc" in data
        return feed != "police" or bool(data.get("uscc"))
    if how == "id_checksum":
        return data.get("id_type") == "身份证"
    return True


class _Defects:
    """Which records of a file are written wrong, and how: one in each block of DEFECT_EVERY, at a place
    that moves from block to block (a fixed stride would meet the same kind of subject every time), the
    kinds of mistake in turn."""

    def __init__(self, seed: int, feed: str, type_name: str, seq: int, kinds: tuple[str, ...]) -> None:
        digest = hashlib.sha256(f"{seed}:{feed}:{type_name}:{seq}".encode()).digest()
        self.phase = int.from_bytes(digest[:4], "big")
        self.at = -1
        self.turn = digest[4] % len(kinds)
        self.feed, self.kinds = feed, kinds
        self.counts: Counter[str] = Counter()

    def pick(self, position: int, data: dict[str, Any]) -> str | None:
        block, place = divmod(position, DEFECT_EVERY)
        if place == 0:
            self.at = (((block + 1) * 0x9E3779B1 + self.phase) & 0xFFFFFFFF) % DEFECT_EVERY
        if place != self.at:
            return None
        # The least used kind this record can carry (ties: in turn), so the kinds stay even.
        order = [self.kinds[(self.turn + step) % len(self.kinds)] for step in range(len(self.kinds))]
        fit = [how for how in order if _eligible(self.feed, how, data)]
        if not fit:
            return None
        how = min(fit, key=lambda h: self.counts[h])
        self.turn = (self.kinds.index(how) + 1) % len(self.kinds)
        self.counts[how] += 1
        return how


def _break_market(kind: str, rec_id: str, version: int, data: dict[str, Any], how: str,
                  run_day: date) -> dict[str, Any]:
    # "future_date" is a week ahead of the run date, so the record is refused whichever day it is ingested.
    today = run_day + timedelta(days=7) if how == "future_date" else run_day
    rec = market_files.XmlRecord(id=rec_id, version=version, data=data)
    return market_files.break_record(kind, rec, how, today).data


def _break_transport(endpoint: str, data: dict[str, Any], how: str, run_day: date) -> dict[str, Any]:
    data = dict(data)
    if how == "uscc_checksum":
        data["uscc"] = _wrong_check_char(data["uscc"])
    elif how == "misspelt_key":  # the clerk's system sends a key the contract does not know
        key = "fine_amount" if "fine_amount" in data else "violation_facts"
        data[{"fine_amount": "fine_amout", "violation_facts": "violation_fact"}[key]] = data.pop(key)
    elif how == "missing_required":
        data.pop("decision_no" if endpoint == "courier-violations" else "licence_no")
    elif how == "future_date":
        data["decision_date"] = (run_day + timedelta(days=8)).isoformat()
    elif how == "grade":
        data["grade"] = "E"
    elif how == "score":
        data["score"] = 120
    else:
        raise ValueError(how)
    return data


def _break_pboc(row: dict[str, Any], how: str, run_day: date) -> dict[str, Any]:
    row = dict(row)
    if how == "risk_level":
        row["risk_level"] = "极高"
    elif how == "uscc_checksum":
        row["merchant_uscc"] = _wrong_check_char(row["merchant_uscc"])
    elif how == "columns":  # a line cut short: one column missing
        return {"raw": pboc_files.dat_line(row).rsplit("|", 1)[0]}
    elif how == "impossible_date":  # 30 February
        row["event_date"] = f"{run_day.year - 1}-02-30"
    elif how == "amount_negative":
        row["amount_yuan"] = -float(row.get("amount_yuan") or 1)
    else:
        raise ValueError(how)
    return row


def _police_row(case: dict[str, Any], how: str | None, date_form: str) -> dict[str, str]:
    if how in {"id_checksum", "id_15_digits"}:
        return police_files.csv_row(police_files.break_case(case, how), date_form=date_form)
    row = police_files.csv_row(case, date_form=date_form)
    if how == "date_form":  # a date in no agreed form
        d = date.fromisoformat(case["filed_date"])
        row[_FILED] = f"{d.year}.{d.month}.{d.day}"
    elif how == "status":
        row[police_files.STATUS_COLUMN] = "待核实"
    elif how == "uscc_checksum":
        row = police_files.csv_row({**case, "uscc": _wrong_check_char(case["uscc"])}, date_form=date_form)
    elif how == "closed_before_filed":
        filed = date.fromisoformat(case["filed_date"])
        row = police_files.csv_row({**case, "closed_date": (filed - timedelta(days=3)).isoformat(),
                                    "outcome": case.get("outcome") or "批评教育并责令改正"}, date_form=date_form)
    return row


# --- writing ------------------------------------------------------------------------------

def _hour_ago() -> float:
    return time.time() - 3600


def _finish(tmp: Path, final: Path) -> int:
    """Date the finished file an hour back (quiet periods long past), then give it its name in one step."""
    then = _hour_ago()
    os.utime(tmp, (then, then))
    size = tmp.stat().st_size
    os.replace(tmp, final)
    return size


def _indices(count: int, changed: int | None, seed: int) -> Callable[[int], int]:
    """Position (0-based, over all files of a type) -> record index: all of them, or a spread share."""
    if changed is None:
        return lambda j: j + 1
    if changed == 0:
        return lambda j: j + 1
    shift = (seed * 7_919) % max(1, count // changed)
    return lambda j: 1 + (j * count) // changed + shift


def _market_file(night: _Night, path: Path, kind: str, positions: range, index: Callable[[int], int],
                 at: datetime, defects: _Defects, changed: bool) -> int:
    record_type = MARKET_RECORD_TYPES[kind]
    tmp = path.with_name(path.name + ".tmp")
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<CreditData xmlns="{market_files.NS}" kind="{kind}" '
            f'generatedAt="{at.isoformat(timespec="seconds")}" recordCount="{len(positions)}">\n')
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(head)
        buf: list[str] = []
        for p, j in enumerate(positions):
            i = index(j)
            rec_id, version, data = night.changed("market", kind, i) if changed else night.market(kind, i)
            how = defects.pick(p, data)
            if how:
                data = _break_market(kind, rec_id, version, data, how, night.run_day)
            buf.append(f'  <Record op="upsert" id="{escape(rec_id, {chr(34): "&quot;"})}" version="{version}">')
            for code, value in to_national(record_type, data, mask_pii=False):
                buf.append(f"<{code}>{escape(value)}</{code}>")
            buf.append("</Record>\n")
            if len(buf) > 20_000:
                fh.write("".join(buf))
                buf.clear()
        buf.append("</CreditData>\n")
        fh.write("".join(buf))
    return _finish(tmp, path)


def _police_file(night: _Night, path: Path, seq: int, positions: range, index: Callable[[int], int],
                 defects: _Defects, changed: bool) -> int:
    tmp = path.with_name(path.name + ".tmp")
    # The export tool's choices: a column order per file, mostly GB18030, now and then UTF-8 with a BOM.
    columns = police_files.shuffled_columns(night.seed * 100 + seq)
    encoding = "utf-8-sig" if (night.seed + seq) % 4 == 0 else "gb18030"
    with tmp.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(columns)
        for p, j in enumerate(positions):
            i = index(j)
            _rec_id, _version, case = night.changed("police", "fraud_case", i) if changed else night.fraud(i)
            how = defects.pick(p, case)
            row = _police_row(case, how, police_files.DATE_FORMS[(i + seq) % 3])
            writer.writerow(["" if row.get(c) is None else str(row.get(c)) for c in columns])
    return _finish(tmp, path)


def _pboc_pair(night: _Night, outbox: Path, name: str, positions: range, index: Callable[[int], int],
               defects: _Defects, changed: bool) -> int:
    data = bytearray()
    lines: list[str] = []
    for p, j in enumerate(positions):
        i = index(j)
        _rec_id, version, row = night.changed("pboc", "payment_risk_event", i) if changed else night.payment(i)
        row["version"] = version
        how = defects.pick(p, row)
        if how:
            row = _break_pboc(row, how, night.run_day)
        lines.append(pboc_files.dat_line(row))
        if len(lines) >= 2_000:
            data += ("\n".join(lines) + "\n").encode("utf-8")
            lines.clear()
    if lines:
        data += ("\n".join(lines) + "\n").encode("utf-8")
    body = bytes(data)
    del data
    pboc_files.write_pair(outbox, {name: body, pboc_files.control_name(name):
                                   pboc_files.control_line(name, body, len(positions))})
    return len(body)


def post_items(url: str, endpoint: str, items: list[dict[str, Any]]) -> int:
    """POST one chunk of items to the transport sandbox (``/_sandbox/items``); returns the bytes sent."""
    body = json.dumps({"endpoint": endpoint, "items": items}, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url.rstrip("/") + "/_sandbox/items", method="POST", data=body,
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=120).close()  # noqa: S310 - loopback sandbox
    return len(body)


def _transport(night: _Night, url: str, endpoint: str, count: int, index: Callable[[int], int],
               at: datetime, defects: _Defects, changed: bool, since: datetime | None = None) -> tuple[int, int]:
    """Items of one endpoint, POSTed in chunks; (bytes, posts)."""
    sent = posts = 0
    # Updated over the evening before ``at``, a few per second, in order; or from ``since`` (a hub
    # that has pulled already must find them after its watermark) to a minute before ``at``.
    start = since or at - timedelta(hours=6)
    end = at - timedelta(minutes=1) if since else at - timedelta(hours=1)
    step = max(end - start, timedelta(0)) / max(count, 1)
    chunk: list[dict[str, Any]] = []
    for p in range(count):
        i = index(p)
        rec_id, version, data = (night.changed("transport", endpoint, i) if changed
                                 else night.record("transport", endpoint, i))
        how = defects.pick(p, data)
        if how:
            data = _break_transport(endpoint, data, how, night.run_day)
        updated = (start + step * p).replace(microsecond=0)
        chunk.append(transport_data.envelope(rec_id, version, updated) | data)
        if len(chunk) >= TRANSPORT_CHUNK:
            sent += post_items(url, endpoint, chunk)
            posts += 1
            chunk = []
    if chunk:
        sent += post_items(url, endpoint, chunk)
        posts += 1
    return sent, posts


def _jobs(night: _Night, changed_share: float | None, same_day: bool) -> Iterator[dict[str, Any]]:
    """The night's files (and transport endpoints), each with its positions and sequence number."""
    for feed in FEEDS:
        for type_name, entry in night.plan["feeds"][feed]["types"].items():
            count = entry["records"]
            todo = count if changed_share is None else round(count * changed_share)
            index = _indices(count, None if changed_share is None else todo, night.seed)
            if feed == "transport":
                yield {"feed": feed, "type": type_name, "seq": 1, "positions": range(todo), "index": index}
                continue
            first_seq = 1 + (len(entry["files"]) if same_day else 0)
            sizes = entry["files"] if changed_share is None else _file_sizes(todo, MAX_RECORDS_PER_FILE[feed])
            _check_seq(feed, type_name, first_seq, len(sizes))
            start = 0
            for k, size in enumerate(sizes):
                yield {"feed": feed, "type": type_name, "seq": first_seq + k, "positions": range(start, start + size),
                       "index": index}
                start += size


def write_night(info: dict[str, Any], day: date, at: datetime, n: int, *, seed: int = 1,
                changed_share: float | None = None, first_day: date | None = None,
                transport_since: datetime | None = None) -> dict[str, Any]:
    """Write a night of ``n`` records into the stand-ins (see the module's docstring); returns a summary.

    ``day`` dates the file names and is the run date the records must be valid for; ``at`` is when
    the departments' systems wrote them. With ``changed_share`` (0..1) this is the second night:
    that share of the first night's records (same ``n`` and ``seed``; the first night was on
    ``first_day``, by default the day before), changed. On the first night's own day its file
    names take the sequence numbers after the first night's.

    ``transport_since``: the transport items change from then on (by default over the evening
    before ``at``): for a hub whose transport watermark is already past the evening.

    Summary: ``records`` and ``defects`` per feed and type, ``defect_kinds`` per feed, ``files``
    per feed (name, records, defects, bytes; transport: endpoint and posts), ``bytes`` per feed
    and in total, ``seconds``.
    """
    started = time.perf_counter()
    if changed_share is not None and not 0 <= changed_share <= 1:
        raise ValueError("changed_share is a share of the first night's records, 0..1")
    base = day if changed_share is None else (first_day or day - timedelta(days=1))
    if base > day:
        raise ValueError("the first night cannot come after the second")
    night = _Night(n, seed, base, day)
    changed = changed_share is not None
    inbox = Path(info["inbox_data"])
    folders = {"market": inbox / "market" / "inbox", "police": inbox / "police" / "inbox",
               "pboc": Path(info["pboc_data"]) / "outbox"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    records: dict[str, Counter[str]] = {feed: Counter() for feed in FEEDS}
    defects: dict[str, Counter[str]] = {feed: Counter() for feed in FEEDS}
    kinds: dict[str, Counter[str]] = {feed: Counter() for feed in FEEDS}
    files: dict[str, list[dict[str, Any]]] = {feed: [] for feed in FEEDS}
    sizes: Counter[str] = Counter()
    d = f"{day:%Y%m%d}"
    for job in _jobs(night, changed_share, same_day=changed and base == day):
        feed, type_name, seq, positions, index = job["feed"], job["type"], job["seq"], job["positions"], job["index"]
        kinds_of = {"market": MARKET_DEFECTS.get(type_name, ()), "police": POLICE_DEFECTS, "pboc": PBOC_DEFECTS,
                    "transport": TRANSPORT_DEFECTS.get(type_name, ())}[feed]
        picker = _Defects(seed, feed, type_name, seq, kinds_of)
        entry: dict[str, Any]
        if feed == "market":
            name = f"MARKET_{type_name}_{d}_{seq:03d}.xml"
            size = _market_file(night, folders[feed] / name, type_name, positions, index, at, picker, changed)
            entry = {"name": name}
        elif feed == "police":
            name = police_files.file_name(day, seq)
            size = _police_file(night, folders[feed] / name, seq, positions, index, picker, changed)
            entry = {"name": name}
        elif feed == "pboc":
            name = pboc_files.pair_name(day, seq)
            size = _pboc_pair(night, folders[feed], name, positions, index, picker, changed)
            entry = {"name": name, "control": pboc_files.control_name(name)}
        else:
            size, posts = _transport(night, info["transport_url"], type_name, len(positions), index, at, picker,
                                     changed, transport_since)
            entry = {"name": type_name, "posts": posts}
        broken = sum(picker.counts.values())
        entry.update(type=type_name, records=len(positions), defects=broken, bytes=size)
        files[feed].append(entry)
        records[feed][type_name] += len(positions)
        defects[feed][type_name] += broken
        kinds[feed].update(picker.counts)
        sizes[feed] += size
    return {
        "n": n, "seed": seed, "day": day.isoformat(), "first_day": base.isoformat(), "changed_share": changed_share,
        "records": {feed: dict(records[feed]) for feed in FEEDS},
        "records_total": sum(sum(c.values()) for c in records.values()),
        "defects": {feed: dict(defects[feed]) for feed in FEEDS},
        "defects_total": sum(sum(c.values()) for c in defects.values()),
        "defect_kinds": {feed: dict(sorted(kinds[feed].items())) for feed in FEEDS},
        "files": files,
        "file_counts": {feed: len(files[feed]) for feed in FEEDS if feed != "transport"},
        "bytes": {**{feed: sizes[feed] for feed in FEEDS}, "total": sum(sizes.values())},
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.night", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", type=Path, required=True, help="the stand-ins' state directory (standins.json)")
    parser.add_argument("--n", type=int, required=True, help="records in the night")
    parser.add_argument("--day", type=date.fromisoformat, help="the night's date, YYYY-MM-DD (default: today)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changed-share", type=float, help="write the second night: this share of the first, changed")
    parser.add_argument("--first-day", type=date.fromisoformat, help="the first night's date (default: the day before)")
    args = parser.parse_args(argv)
    info_path = args.state.resolve() / "standins.json"
    if not info_path.exists():
        parser.error(f"{info_path} not found: start the stand-ins first (python -m sandbox.standins start)")
    info = json.loads(info_path.read_text())
    now = datetime.now(LOCAL)
    day = args.day or now.date()
    at = now.replace(microsecond=0) if day == now.date() else datetime.combine(day, dtime(22, 30), LOCAL)
    summary = write_night(info, day, at, args.n, seed=args.seed, changed_share=args.changed_share,
                          first_day=args.first_day)
    print(json.dumps({k: v for k, v in summary.items() if k != "files"}, ensure_ascii=False, indent=2))
    print(json.dumps({"files": {f: [e["name"] for e in v] for f, v in summary["files"].items()}}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
