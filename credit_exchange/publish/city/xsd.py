"""Validation of the city platform's XML (contracts.md 2.2) against `schemas/city_exchange.xsd`.

XSD 1.0 cannot tie a Record's content to `Exchange/@type` or to `op`; those
rules, the record count and the masking of personal data are checked here
after the schema. Documents are parsed with no DTD, no entities, no network.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

from credit_exchange.standard.fields import FIELDS, SCHEMAS_DIR, free_text_fields
from credit_exchange.standard.pii import mask_text

XSD_PATH = SCHEMAS_DIR / "city_exchange.xsd"
NS = "urn:leshan:credit:exchange:2"
# City file type → record type of the field table.
CITY_TYPES = {
    "XZXK": "administrative_license",
    "XZCF": "administrative_penalty",
    "JYYC": "abnormal_operation",
    "HONGMD": "list_entry",
    "HEIMD": "list_entry",
}
_LIST_TYPE = {"HONGMD": "红名单", "HEIMD": "黑名单"}


def _parser() -> etree.XMLParser:
    # No DTD loading, no entity expansion, no network access (XXE / billion laughs).
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH), _parser()))


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def validate_city_xml(path_or_bytes: str | Path | bytes) -> list[str]:
    """Errors of a city exchange or receipt document; empty when it is valid."""
    try:
        if isinstance(path_or_bytes, bytes):
            tree = etree.ElementTree(etree.fromstring(path_or_bytes, _parser()))
        else:
            tree = etree.parse(str(path_or_bytes), _parser())
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        return ["a DOCTYPE or entity declaration is not allowed"]

    schema = _schema()
    if not schema.validate(tree):
        return [f"line {e.line}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]

    root = tree.getroot()
    if root.tag != _q("Exchange"):
        return []  # a Receipt: the schema says it all
    return _exchange_rules(root)


def _exchange_rules(root: etree._Element) -> list[str]:
    errors: list[str] = []
    city_type = root.get("type", "")
    record_type = CITY_TYPES[city_type]
    by_code = FIELDS.by_code(record_type)
    free = free_text_fields(record_type)
    records = root.findall(_q("Record"))
    if int(root.get("count", "-1")) != len(records):
        errors.append(f"count={root.get('count')} but the document has {len(records)} Record elements")
    seen: set[str] = set()
    for n, rec in enumerate(records, start=1):
        rid, op = rec.get("id", ""), rec.get("op")
        where = f"Record {n} (id {mask_text(rid)})"
        if mask_text(rid) != rid:
            errors.append(f"{where}: the record id carries personal data unmasked")
        if rid in seen:
            errors.append(f"{where}: id repeated in the same file")
        seen.add(rid)
        children = list(rec)
        if op == "delete":
            if children:
                errors.append(f"{where}: a delete Record must be empty")
            continue
        if not children:
            errors.append(f"{where}: an {op} Record needs its fields")
            continue
        for child in children:
            code = etree.QName(child).localname
            field = by_code.get(code)
            if field is None:
                errors.append(f"{where}: element {code} does not belong to a {city_type} file")
                continue
            text = child.text or ""
            if field.pii and "*" not in text:
                errors.append(f"{where}: {code} must be masked on the city platform")
            elif field.name in free and mask_text(text) != text:
                errors.append(f"{where}: {code} carries an ID or phone number unmasked")
            if code == "HMD_MDLX" and text != _LIST_TYPE[city_type]:
                errors.append(f"{where}: HMD_MDLX {text} in a {city_type} file")
    return errors
