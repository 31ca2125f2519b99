"""Deterministic, realistic, valid canonical records of every record type.

For the demo, the benchmarks and tests: `valid_record(record_type, i, today)`
always returns the same record for the same arguments, and it passes the
validator for that run date. USCCs and ID numbers carry correct check
characters computed with `checks`.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from credit_exchange.standard import checks
from credit_exchange.standard.pii import mask_id_number

REGION = "511123"  # 犍为县
_REGIONS = ("511123", "511102", "511111", "511112", "511181", "511124", "511126", "511129")

_BRANDS = (
    "嘉禾", "清溪", "罗城", "芭沟", "玉津", "铁山", "岷江", "龙孔", "孝姑", "寿保", "金石井", "新民",
    "石溪", "敖家", "马边河", "沉犀", "九井", "双溪", "舞雩", "茉莉香",
)
_TRADES = ("电子商务", "农业科技", "茶业", "食品", "物流", "建材", "商贸", "餐饮管理", "网络科技", "酒业")
_TOWNS = ("玉津镇", "孝姑镇", "石溪镇", "清溪镇", "罗城镇", "铁山镇", "芭沟镇", "龙孔镇", "新民镇", "寿保乡")
_SHOP_KINDS = ("小吃店", "便利店", "茶叶店", "农资店", "五金店", "土特产店", "服装店", "手机店")
_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "胡", "朱", "高", "罗", "郑", "梁", "谢", "宋")
_GIVEN = ("建国", "秀英", "志强", "丽华", "俊杰", "婷", "磊", "晓燕", "德明", "雪梅", "海涛", "桂兰", "子涵", "浩然", "文静", "国平")
_PLATFORMS = (("淘宝", "taobao.com"), ("京东", "jd.com"), ("拼多多", "pinduoduo.com"), ("抖音电商", "douyin.com"), ("快手小店", "kuaishou.com"))
_PAY_INSTITUTIONS = ("银联商务股份有限公司", "拉卡拉支付股份有限公司", "快钱支付清算信息有限公司", "通联支付网络服务股份有限公司", "随行付支付有限公司")

AUTHORITY_MARKET = "犍为县市场监督管理局"
AUTHORITY_POLICE = "犍为县公安局"
AUTHORITY_NDRC = "县发展和改革局"

# Characters valid both in the USCC alphabet and in an organisation code.
_ORG_BODY_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_uscc(prefix: str, region: str, n: int) -> str:
    """A valid USCC: prefix (2), region (6), organisation code from n (9), check char."""
    body = ""
    x = n * 7919 + 104729  # spread consecutive n over the alphabet
    for _ in range(8):
        x, r = divmod(x, len(_ORG_BODY_ALPHABET))
        body += _ORG_BODY_ALPHABET[r]
    first17 = prefix + region + body + checks.org_code_check_char(body)
    return first17 + checks.uscc_check_char(first17)


def make_id_number(n: int, today: datetime.date) -> str:
    """A valid 18-digit ID number of an adult born in the region."""
    born = datetime.date(1955, 1, 1) + datetime.timedelta(days=(n * 3571) % 17000)
    born = min(born, today - datetime.timedelta(days=366 * 18))
    first17 = f"{_REGIONS[n % len(_REGIONS)]}{born:%Y%m%d}{n % 1000:03d}"
    return first17 + checks.id_check_char(first17)


AUTHORITY_MARKET_USCC = make_uscc("11", REGION, 1)
AUTHORITY_POLICE_USCC = make_uscc("11", REGION, 2)
AUTHORITY_NDRC_USCC = make_uscc("11", REGION, 3)


def _pick(seq: tuple[Any, ...], i: int, salt: int = 0) -> Any:
    return seq[(i * 31 + salt * 7) % len(seq)]


def person_name(i: int) -> str:
    return _pick(_SURNAMES, i) + _pick(_GIVEN, i, 3)


def company_name(i: int, trade: str | None = None) -> str:
    return f"犍为县{_pick(_BRANDS, i)}{trade or _pick(_TRADES, i, 1)}有限公司"


def business_name(i: int) -> str:
    return f"犍为县{_pick(_TOWNS, i)}{_pick(_SURNAMES, i, 2)}记{_pick(_SHOP_KINDS, i, 5)}"


def _days_ago(today: datetime.date, n: int) -> datetime.date:
    return today - datetime.timedelta(days=n)


def _add_years(d: datetime.date, years: int) -> datetime.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _phone(i: int) -> str:
    if i % 4 == 3:
        return f"0833-{4200000 + i % 800000}"
    return f"1{(3, 5, 8, 9)[i % 4]}{(i * 7919) % 10**9:09d}"


def _wan(cents_of_wan: int) -> int | float:
    """An amount in 万元 from hundredths, as the mapping would produce it (no float noise)."""
    d = Decimal(cents_of_wan) / 100
    return int(d) if d == d.to_integral_value() else float(d)


def _subject(i: int, today: datetime.date, *, with_legal_rep: bool, allow_placeholder: bool) -> dict[str, Any]:
    """Subject fields for i: mostly organisations, some individual businesses and persons."""
    kind = i % 5
    if kind <= 2:
        uscc = make_uscc("91", REGION, 1000 + i)
        rec: dict[str, Any] = {"subject_name": company_name(i), "subject_category": "法人及非法人组织", "uscc": uscc}
        if with_legal_rep:
            rec["org_code"] = f"{uscc[8:16]}-{uscc[16]}"
            rec["legal_rep_name"] = person_name(i + 7)
            rec["legal_rep_id_type"] = "身份证"
            rec["legal_rep_id_number"] = make_id_number(i + 7, today)
        return rec
    if kind == 3:
        rec = {"subject_name": business_name(i), "subject_category": "个体工商户"}
        if allow_placeholder and i % 10 == 3:
            # An individual business registered before USCCs: placeholder + 工商注册号.
            rec["uscc"] = checks.USCC_PLACEHOLDER
            rec["business_reg_no"] = f"{REGION}600{i % 1000000:06d}"
        else:
            rec["uscc"] = make_uscc("92", REGION, 2000 + i)
        if with_legal_rep:
            rec["legal_rep_name"] = person_name(i)
        return rec
    id_type = "身份证" if i % 20 != 4 else "港澳居民来往内地通行证"
    number = make_id_number(i, today) if id_type == "身份证" else f"H{(i * 7919) % 10**8:08d}"
    return {"subject_name": person_name(i), "subject_category": "自然人", "id_type": id_type, "id_number": number}


def _license(i: int, today: datetime.date) -> dict[str, Any]:
    decided = _days_ago(today, (i * 13) % 900)
    kinds = (
        ("食品经营许可", "食品经营许可证", "JY1511123", "预包装食品（含冷藏冷冻食品）销售，散装食品销售，热食类食品制售"),
        ("药品经营许可", "药品经营许可证", "川CB833", "中成药、化学药制剂、抗生素制剂、生化药品"),
        ("特种设备使用登记", "特种设备使用登记证", "梯11川L", "电梯使用登记"),
        ("小餐饮登记", "小餐饮经营许可证", "XCY511123", "小餐饮：热食类食品制售"),
    )
    doc, cert, prefix, content = _pick(kinds, i)
    rec = _subject(i, today, with_legal_rep=True, allow_placeholder=True)
    rec.update({
        "decision_doc_name": f"{doc}决定书",
        "decision_doc_no": f"犍市监许〔{decided.year}〕{100 + i % 9000}号",
        "licence_category": _pick(("普通", "普通", "登记", "核准", "认可", "特许"), i),
        "certificate_name": cert,
        "licence_no": f"{prefix}{i:07d}",
        "content": content,
        "decision_date": decided.isoformat(),
        "valid_from": decided.isoformat(),
        # Some licences are long term: 2099-12-31 means no end.
        "valid_to": "2099-12-31" if i % 7 == 0 else _add_years(decided, 5).isoformat(),
        "authority": AUTHORITY_MARKET,
        "authority_uscc": AUTHORITY_MARKET_USCC,
        "status": "无效" if i % 9 == 0 else "有效",
        "source_unit": AUTHORITY_MARKET,
        "source_unit_uscc": AUTHORITY_MARKET_USCC,
    })
    if i % 6 == 0:
        rec["remark"] = "延续换证"
    return rec


_PENALTIES = (
    (["警告"], "未按规定公示营业执照", "《中华人民共和国电子商务法》第七十六条第一款第一项"),
    (["罚款"], "销售超过保质期的食品", "《中华人民共和国食品安全法》第一百二十四条第一款第五项"),
    (["警告", "罚款"], "网络交易经营者未公示经营者身份信息", "《网络交易监督管理办法》第四十八条"),
    (["罚款", "没收违法所得"], "发布虚假广告", "《中华人民共和国广告法》第五十五条第一款"),
    (["吊销许可证件", "罚款"], "使用非食品原料生产食品", "《中华人民共和国食品安全法》第一百二十三条第一款第一项"),
    (["暂扣许可证件"], "未按规定进行特种设备定期检验", "《中华人民共和国特种设备安全法》第八十四条"),
    (["通报批评"], "未按规定履行价格明码标价义务", "《明码标价和禁止价格欺诈规定》第二十一条"),
    (["责令停产停业", "罚款", "没收非法财物"], "生产销售不符合安全标准的产品", "《中华人民共和国产品质量法》第四十九条"),
)


def _penalty(i: int, today: datetime.date) -> dict[str, Any]:
    decided = _days_ago(today, (i * 17) % 1000)
    categories, violation, basis = _pick(_PENALTIES, i)
    rec = _subject(i, today, with_legal_rep=True, allow_placeholder=True)
    fine = _wan(5 + (i * 37) % 2000)  # 0.05 .. 20 万元
    content = "、".join(categories)
    rec.update({
        "decision_no": f"犍市监处罚〔{decided.year}〕{10 + i % 9000}号",
        "violation_type": violation,
        "violation_facts": f"经查，当事人于{decided.year}年在经营活动中存在{violation}的行为，违反了{basis}的规定。",
        "legal_basis": basis,
        "penalty_categories": list(categories),
        "penalty_content": content,
        "decision_date": decided.isoformat(),
        "valid_until": _add_years(decided, 3).isoformat(),
        "authority": AUTHORITY_MARKET,
        "authority_uscc": AUTHORITY_MARKET_USCC,
        "source_unit": AUTHORITY_MARKET,
        "source_unit_uscc": AUTHORITY_MARKET_USCC,
    })
    if "罚款" in categories:
        rec["fine_amount"] = fine
        rec["penalty_content"] = f"{content}；罚款人民币{(Decimal(str(fine)) * 10000).normalize():f}元"
    if "没收违法所得" in categories or "没收非法财物" in categories:
        rec["confiscation_amount"] = _wan(1 + (i * 11) % 500)
    if "暂扣许可证件" in categories or "吊销许可证件" in categories:
        rec["suspended_licence"] = f"食品经营许可证 JY1511123{i:07d}"
    return rec


_ABNORMAL_REASONS = (
    "未依照《企业信息公示暂行条例》第八条规定的期限公示年度报告",
    "通过登记的住所或者经营场所无法联系",
    "未在责令的期限内公示有关企业信息",
    "公示企业信息隐瞒真实情况、弄虚作假",
)


def _abnormal(i: int, today: datetime.date) -> dict[str, Any]:
    listed = _days_ago(today, 30 + (i * 19) % 1500)
    rec: dict[str, Any] = {
        "subject_name": company_name(i),
        "uscc": make_uscc("91", REGION, 1000 + i),
        "listed_reason": _pick(_ABNORMAL_REASONS, i),
        "listed_date": listed.isoformat(),
        "listed_by": AUTHORITY_MARKET,
        "source_unit": AUTHORITY_MARKET,
        "source_unit_uscc": AUTHORITY_MARKET_USCC,
    }
    removed = listed + datetime.timedelta(days=20 + i % 200)
    if i % 3 == 0 and removed <= today:
        rec.update({
            "removed_reason": "补报了未报年份的年度报告并公示",
            "removed_date": removed.isoformat(),
            "removed_by": AUTHORITY_MARKET,
        })
    return rec


def _shop(i: int, today: datetime.date) -> dict[str, Any]:
    platform, domain = _pick(_PLATFORMS, i)
    subject = _subject(i, today, with_legal_rep=False, allow_placeholder=False)
    rec: dict[str, Any] = {
        "shop_name": f"{_pick(_BRANDS, i)}{_pick(('旗舰店', '专营店', '小店', '土特产馆'), i, 4)}",
        "platform": platform,
        "shop_url": f"https://shop{100000 + i}.{domain}",
        "operator_name": subject.pop("subject_name"),
        **subject,
        "phone": _phone(i),
        "business_scope": _pick(("茶叶、农副产品网络销售", "预包装食品网络销售", "服装鞋帽网络零售", "日用百货网络销售"), i),
        "registered_date": _days_ago(today, (i * 23) % 1200).isoformat(),
        "status": "注销" if i % 11 == 0 else "正常",
    }
    return rec


def _fraud(i: int, today: datetime.date) -> dict[str, Any]:
    filed = _days_ago(today, 10 + (i * 29) % 1000)
    subject = _subject(i, today, with_legal_rep=False, allow_placeholder=False)
    rec: dict[str, Any] = {
        "case_no": f"JWGA{filed:%Y}{i:06d}",
        "case_type": _pick(("刷单炒信", "虚假交易", "网络诈骗", "侵犯公民个人信息", "制假售假", "恶意评价", "其他"), i),
        **subject,
        "platform": _pick(_PLATFORMS, i)[0],
        "filed_date": filed.isoformat(),
        "serious": i % 4 == 0,
        "handling_unit": AUTHORITY_POLICE,
    }
    closed = filed + datetime.timedelta(days=15 + i % 120)
    if i % 2 == 0 and closed <= today:
        rec["closed_date"] = closed.isoformat()
        rec["outcome"] = _pick(("行政拘留十日，并处罚款", "移送检察机关审查起诉", "批评教育并责令改正"), i)
    return rec


def _courier(i: int, today: datetime.date) -> dict[str, Any]:
    grade = _pick(("A", "A", "B", "B", "C", "D"), i)
    score = {"A": 92, "B": 81, "C": 68, "D": 45}[grade] + (i % 7)
    return {
        "enterprise_name": company_name(i, "快递"),
        "uscc": make_uscc("91", REGION, 5000 + i),
        "licence_no": f"川{2015 + i % 10}{i % 100000:05d}",
        "licence_valid_to": _add_years(today, 1 + i % 4).isoformat(),
        "rating_year": today.year - 1 - (i % 3),
        "grade": grade,
        "score": score + 0.5 if i % 2 else score,
        "violations_count": {"A": 0, "B": 1, "C": 3, "D": 6}[grade] + i % 2,
        "status": "停业" if i % 13 == 0 else "正常",
    }


def _payment(i: int, today: datetime.date) -> dict[str, Any]:
    event_date = _days_ago(today, (i * 7) % 700)
    rec: dict[str, Any] = {
        "event_id": f"PBOC{event_date:%Y%m%d}{i:06d}",
        "merchant_name": company_name(i) if i % 3 else business_name(i),
        "merchant_uscc": make_uscc("91" if i % 3 else "92", REGION, 7000 + i),
        "institution_name": _pick(_PAY_INSTITUTIONS, i),
        "institution_licence": f"Z{(20000000000 + i * 7919) % 10**13:013d}",
        "event_type": _pick(("套现", "欺诈", "洗钱可疑", "虚假交易", "其他"), i),
        "event_date": event_date.isoformat(),
        "risk_level": _pick(("高", "中", "低"), i),
        "action_taken": _pick(("风险提示", "限制收款", "暂停支付", "终止服务"), i),
        "amount_yuan": float(Decimal(1000 + (i * 7919) % 5000000) / 100),
    }
    if i % 5 == 0:
        rec["remark"] = "商户已提交整改报告"
    return rec


def _profile(i: int, today: datetime.date) -> dict[str, Any]:
    kind = ("org", "org", "individual_business", "person")[i % 4]
    rec: dict[str, Any] = {"subject_kind": kind}
    if kind == "person":
        rec.update({"subject_key": f"{(i * 2654435761) % 2**64:016x}" * 4, "subject_name": person_name(i),
                    "id_number_masked": mask_id_number(make_id_number(i, today))})
    else:
        uscc = make_uscc("91" if kind == "org" else "92", REGION, 1000 + i)
        rec.update({"subject_key": uscc, "subject_name": company_name(i) if kind == "org" else business_name(i),
                    "uscc": uscc})
    black = i % 6 == 0
    red = not black and kind != "person" and i % 6 == 1
    record_ids = [f"market:administrative_penalty:SCJG-CF-{today.year}-{i:06d}"] if black else []
    record_ids.append(f"market:administrative_license:SCJG-XK-{today.year}-{i:06d}")
    rec.update({
        "record_counts": {"administrative_license": 1, **({"administrative_penalty": 1} if black else {})},
        "record_ids": record_ids,
        "list_status": "black" if black else "red" if red else "none",
        "list_rules": ["B2"] if black else ["R2"] if red else [],
        "list_record_ids": record_ids[:1] if black or red else [],
        "updated_at": f"{today.isoformat()}T02:00:00+08:00",
    })
    return rec


def _list_entry(i: int, today: datetime.date) -> dict[str, Any]:
    black = i % 2 == 0
    listed = _days_ago(today, (i * 11) % 400)
    if black:
        subject = _subject(i, today, with_legal_rep=False, allow_placeholder=False)
        subject.pop("id_type", None)
        reason, basis = "存在吊销许可证件的行政处罚", f"B2; market:administrative_penalty:SCJG-CF-{listed.year}-{i:06d}"
    else:
        subject = {"subject_name": company_name(i), "subject_category": "法人及非法人组织",
                   "uscc": make_uscc("91", REGION, 1000 + i)}
        reason, basis = "网店正常经营且持有有效行政许可", f"R2; police:online_shop_registration:{i:06d}"
    rec: dict[str, Any] = {
        **subject,
        "list_type": "黑名单" if black else "红名单",
        "reason": reason,
        "basis": basis,
        "listed_date": listed.isoformat(),
        "valid_to": _add_years(listed if black else today, 3 if black else 1).isoformat(),
        "decided_by": AUTHORITY_NDRC,
        "decided_by_uscc": AUTHORITY_NDRC_USCC,
        "status": "有效",
    }
    return rec


_BUILDERS = {
    "administrative_license": _license,
    "administrative_penalty": _penalty,
    "abnormal_operation": _abnormal,
    "online_shop_registration": _shop,
    "fraud_case": _fraud,
    "courier_rating": _courier,
    "payment_risk_event": _payment,
    "credit_profile": _profile,
    "list_entry": _list_entry,
}


def valid_record(record_type: str, i: int, today: datetime.date) -> dict[str, Any]:
    """The i-th realistic valid canonical record of a type for run date `today` (deterministic)."""
    try:
        build = _BUILDERS[record_type]
    except KeyError:
        raise KeyError(f"unknown record type {record_type!r}") from None
    return build(i, today)
