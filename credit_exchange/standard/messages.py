"""User-facing messages, one place: Chinese with an English gloss, saying what to do.

Keyed by rule code; used by the validator and (later) for file-level errors
in receipts, the UI and alerts. Add new codes to `MESSAGES`.
"""

from __future__ import annotations

import string
from typing import Any

from credit_exchange.standard.pii import escape_controls, mask_text

MESSAGES: dict[str, str] = {
    # --- derived records: data quality (derive.py) ---
    "name_mismatch": "主体{subject}在不同记录中的名称不一致：{names}；已按同一主体合并，请有关部门核实名称 (one subject, several names: the records were merged as one subject; the departments should check the names)",
    "list_entry_no_uscc": "个体工商户（工商注册号{regno}）符合{list_type}认定条件，但没有统一社会信用代码，名单条目无法生成，请核实并补充统一社会信用代码 (the individual business meets the list rules but has no USCC, so no list entry can be made: obtain its USCC)",
    # --- field rules (validation.py) ---
    "required": "{label}为必填项，请补充 (required field {field} is missing: fill it in)",
    "empty": "{label}不能为空字符串，请填写或删除该字段 (empty value: give a value or leave the field out)",
    "enum": "{label}的取值不在允许范围内，应为：{allowed} (value not allowed: use one of the listed values)",
    "max_length": "{label}超过{max}个字符，请缩短 (longer than {max} characters: shorten it)",
    "type": "{label}的数据类型错误，应为{expected_zh} (wrong type, expected {expected}: correct the value)",
    "minimum": "{label}不能小于{min} (below the minimum {min}: correct the value)",
    "maximum": "{label}不能大于{max} (above the maximum {max}: correct the value)",
    "pattern": "{label}格式不正确{hint} (wrong format: correct the value)",
    "empty_list": "{label}至少应填写一项 (empty list: give at least one entry)",
    "duplicate_items": "{label}含有重复项，请去重 (duplicate entries: remove the repeats)",
    "not_allowed": "{label}在此情况下不应填写{hint} (not allowed here: remove it)",
    "unknown_field": "未知字段“{field}”，请只使用数据标准规定的字段 (unknown field: use only the fields of the data standard)",
    "not_empty": "{label}应为空 (must be empty for this operation: remove its content)",
    "invalid": "{label}不符合数据标准 (does not conform to the data standard: check the value)",
    # --- formats ---
    "format_date": "{label}不是有效日期，请按约定格式填写真实日期，如2026-03-01或2026/03/01 (not a valid date: write a real date in an agreed form, e.g. 2026-03-01 or 2026/03/01)",
    "format_datetime": "{label}不是有效时间，应为带时区的ISO 8601时间 (not a valid timestamp: use ISO 8601 with offset)",
    "format_url": "{label}不是有效的http(s)网址 (not an http(s) URL: give the full address starting with http:// or https://)",
    "format_phone": "{label}应为11位手机号码或带区号的固定电话 (not a phone number: give an 11-digit mobile or an area-code number)",
    "uscc_length": "统一社会信用代码应为18位 (USCC must have 18 characters: check the code)",
    "uscc_charset": "统一社会信用代码含非法字符：只允许数字和大写字母（不含I、O、S、V、Z），小写字母无效 (invalid characters: digits and upper-case letters except I, O, S, V, Z only; lower case is an error)",
    "uscc_checksum": "统一社会信用代码校验位错误 (check digit wrong: check the code with the registering authority)",
    "uscc_org_code": "统一社会信用代码第9-17位（组织机构代码）校验位错误 (check character of the organisation code at positions 9-17 wrong: check the code)",
    "uscc_placeholder": "占位统一社会信用代码00000000000000000X只能用于无统一社会信用代码的个体工商户，且须同时填写工商注册号 (placeholder USCC only for an individual business without a USCC, together with its business registration number)",
    "org_code_format": "组织机构代码格式错误，应为8位数字或大写字母加1位校验码（XXXXXXXX-C） (wrong format: 8 digits or upper-case letters and a check character)",
    "org_code_checksum": "组织机构代码校验码错误 (check character wrong: check the code)",
    "id_number_format": "身份证号码应为17位数字加1位校验码（数字或大写X） (wrong format: 17 digits and a check character 0-9 or upper-case X)",
    "id_number_15": "不接受15位身份证号码，请提供18位号码 (15-digit ID numbers are not accepted: give the 18-digit number)",
    "id_number_checksum": "身份证号码校验码错误 (check character wrong: check the number)",
    "id_number_birthdate": "身份证号码中的出生日期无效或晚于当天 (birth date in the ID number is not a real date or is in the future: check the number)",
    # --- extra rules (cross-field, run date) ---
    "date_future": "{label}不能晚于当天{today} (date in the future: check the date)",
    "date_order": "{label}不能早于{other_label} (must not be before {other}: check both dates)",
    "amount_decimals": "{label}最多保留6位小数（单位万元） (more than 6 decimals: round to 6 decimals of 10,000 yuan)",
    # --- record structure (parsers, intake) ---
    "record_id_missing": "记录缺少部门记录编号 (the record has no id: give the department's record id)",
    "record_id_too_long": "部门记录编号超过128个字符 (record id longer than 128 characters: shorten it)",
    "record_version": "记录版本号“{value}”无效，应为正整数 (version {value!r} is not a positive whole number: correct it)",
    "record_op": "记录操作“{value}”无效，应为upsert或delete (operation {value!r} is neither upsert nor delete: correct it)",
    "record_unreadable": "处理本条记录时出错，已拒收：{detail}；请检查该记录的内容 (processing this record failed, it is refused: {detail}; check its content)",
    "duplicate_field": "字段{label}重复出现，只能出现一次 (field given twice: keep one)",
    "stale_version": "版本{version}低于已接收的版本{held}，已忽略 (version {version} is older than version {held} already taken: ignored; send the newest version)",
    "version_conflict": "版本{version}已接收但内容不同：内容变更时版本号须加一 (version {version} was taken before with other content: raise the version with every change)",
    # --- whole files (receipts: position "file") ---
    "file_name": "文件名“{name}”不符合约定格式，文件未处理 (file name does not follow the agreed pattern: rename it and send it again)",
    "file_too_large": "文件大小{size}字节超过上限{limit}字节 (file larger than the limit: split it and send the parts)",
    "xml_not_well_formed": "XML格式错误，文件可能不完整：{detail} (the XML is not well formed, the file may be incomplete: send it again)",
    "xml_doctype": "文件含有DOCTYPE或实体声明，出于安全原因整个文件被拒 (the file carries a DOCTYPE or entity declarations, refused for safety: send it without them)",
    "xml_encoding": "文件编码为{encoding}，应为UTF-8 (the file is encoded as {encoding}; it must be UTF-8: convert and send it again)",
    "xml_root": "根元素不是约定的CreditData（命名空间urn:qianwei:market:credit:1） (root element is not the agreed CreditData: check the file format)",
    "xml_kind_mismatch": "文件声明的类型{declared}与文件名中的类型{expected}不一致 (kind {declared!r} does not match the file name's {expected!r}: correct one of them)",
    "xml_unexpected_element": "CreditData下出现非Record元素{element} (unexpected element {element} under CreditData: only Record elements are allowed)",
    "record_count_missing": "文件缺少recordCount属性 (recordCount attribute missing: add the number of records)",
    "record_count_invalid": "recordCount“{value}”不是由ASCII数字组成的非负整数，整个文件被拒 (recordCount {value!r} is not a whole number in ASCII digits: the whole file is refused; correct it and send the file again)",
    "record_count_mismatch": "recordCount为{declared}，实际记录数为{found}，文件可能被截断或篡改，整个文件被拒 (declared {declared} records, found {found}: the file may be truncated or altered; send it again)",
    "unit_unreadable": "读取本文件时出错，整个文件被拒，未接收任何记录：{detail}；请检查文件内容后重新报送，如确认文件无误请联系交换平台管理员 (reading the file failed, it is refused whole and nothing was taken: {detail}; check the file and send it again, or ask the hub's admins if it is right)",
    "unit_attempts": "连续{attempts}次读取本文件时连接或数据库中断，整个文件被拒，未接收任何记录：{detail}；管理员可在交换平台页面重新排队 (reading the file was interrupted {attempts} times by the network or the store, so it is refused whole and nothing was taken: {detail}; an admin can re-queue it on the Exchange page)",
    "file_not_regular": "“{name}”不是普通文件（{kind}），未读取，已移入隔离区；请以普通文件上传 (not a regular file ({kind}): not read, moved to quarantine; upload a plain file instead)",
    "inbox_not_regular": "收件箱中有目录“{name}”，交换平台不处理目录，请部门将文件直接放入收件箱并删除该目录 (a directory sits in the inbox: the hub takes plain files only; put the files into the inbox itself and remove the directory)",
    "reject_threshold": "错误记录{rejected}条（共{total}条），超过上限{limit}，整个文件被拒 ({rejected} of {total} records are wrong, over the limit {limit}: the whole file is refused; correct and send it again)",
    # --- police CSV (contracts.md 1.2) ---
    "csv_encoding": "第{line}行含有无法按{encoding}解码的字节，文件应为GB18030编码（或带BOM的UTF-8），整个文件被拒 (line {line} holds bytes that are not valid {encoding}: the file must be GB18030, or UTF-8 with a BOM; convert it and send it again)",
    "csv_header": "第1行表头与约定的列不符：{detail}，整个文件被拒 (the header row does not match the agreed columns: {detail}; correct the header and send the file again)",
    "csv_unterminated_quote": "第{line}行开始的带引号字段直到文件末尾都没有结束，文件可能不完整，整个文件被拒 (a quoted field opened on line {line} is never closed, the file may be truncated: send it again)",
    "csv_line_too_long": "第{line}行过长（超过{limit}），文件可能已损坏（如引号未闭合），整个文件被拒 (line {line} is longer than {limit}, the file is probably corrupt, e.g. an unclosed quote: send it again)",
    "csv_quoting": "本行引号不符合CSV规则：{detail}；含逗号、引号或换行的字段须整体加英文双引号，字段内的双引号须写两次 (broken quoting: {detail}; enclose fields holding commas, quotes or line breaks in double quotes and double every quote inside)",
    "csv_field_count": "本行有{found}个字段，表头有{expected}列，请检查是否多出或缺少逗号 (the row has {found} fields but the header {expected} columns: check for extra or missing commas)",
    "record_status": "{label}“{value}”无效，应为“有效”或“撤销” ({label} {value!r} is neither 有效 (in force) nor 撤销 (withdrawn): correct it)",
    # --- inbox monitoring (operations.md "Inbox handling") ---
    "inbox_stuck": "文件“{name}”在收件箱中已{days}天未完成上传（{state}），请联系部门重新完整上传或删除该文件 (the file has sat unfinished in the inbox for {days} days ({state}): ask the department to upload it again completely, or remove it)",
    # --- scheduling ---
    "cycle_late": "{night}夜间交换周期中 {dag_id} 在06:00前未成功完成（{state}），平台可能未收到当晚的数据；请在 Airflow 中查看该 DAG 当晚的运行并处理 (the nightly cycle of {night}: {dag_id} had not succeeded by 06:00 ({state}), so the platforms may lack that night's data: open the DAG's run of that night in Airflow and see what holds it up)",
    # --- pboc pairs (contracts.md 1.4) ---
    "pboc_columns": "本行有{found}列，应为{expected}列（以“|”分隔，删除行可只写前3列） (the line has {found} columns, expected {expected} separated by '|', or 3 for a delete: correct the line)",
    "pboc_op": "操作标志“{value}”无效，应为U（新增或更新）或D（删除） (operation flag {value!r} is neither U (upsert) nor D (delete): correct it)",
    "pboc_encoding": "本行不是有效的UTF-8编码 (the line is not valid UTF-8: save the file as UTF-8 and send it again)",
    "pboc_line_too_long": "本行超过{limit}字节，未读取 (the line is longer than {limit} bytes and was not read: check the file)",
    "pboc_control_malformed": "控制文件{name}不符合约定格式“数据文件名|记录数|SM3”：{detail} (the control file does not read 'data file name|record count|SM3 hex': {detail}; write it again)",
    "pboc_control_name": "控制文件中的数据文件名“{found}”应为“{expected}” (the control file names {found!r} instead of {expected!r}: correct the control file)",
    "pboc_data_missing": "有控制文件{control}但没有数据文件{name} (the control file is there but its data file is missing: send the data file)",
    "pboc_digest_mismatch": "数据文件的SM3为{found}，控制文件声明为{declared}，文件可能仍在传输中或已损坏 (the data file's SM3 {found} differs from the announced {declared}: the file may still be in transit, or corrupt)",
    "pboc_count_mismatch": "数据文件有{found}条记录，控制文件声明{declared}条，文件可能仍在传输中或已损坏 (the data file holds {found} records, the control file announces {declared}: the file may still be in transit, or corrupt)",
    "pboc_changed": "数据文件在读取过程中发生变化，文件可能仍在传输中 (the data file changed while it was read: it may still be in transit)",
    "pboc_pair_corrupt": "人行数据文件{name}已连续{runs}次检查未通过，判定为损坏，未接收任何记录：{problem}；请联系人行犍为县支行重新生成并发送 (the pair failed its check on {runs} runs and is held corrupt, nothing was taken: {problem}; ask the PBoC sub-branch to regenerate and resend it)",
    "pboc_pair_refused": "人行数据文件{name}整个被拒：{problem} (the pair was refused whole: {problem})",
    # --- city platform (credit_exchange/publish/city/push.py) ---
    "city_xml_invalid": "城市平台文件{name}未通过XSD校验，未上传；这是交换平台的程序缺陷，请联系开发人员 (the city file {name} fails the XSD and was not uploaded: a bug in the hub, report it to the developers)",
    "city_receipt_overdue": "城市平台文件{name}上传已超过{hours}小时仍无回执，请向市信用平台核实是否收到 (no receipt {hours} hours after the upload of {name}: ask the city platform whether it arrived)",
    "city_receipt_invalid": "城市平台回执{name}不符合约定格式，未处理：{detail} (the city platform's receipt does not conform and was not applied: ask the city platform to write it again)",
    "city_file_rejected": "市信用平台拒收整个文件{name}，请查看回执，在源头更正后重新报送 (the city platform rejected the whole file: read the receipt, correct at the source, the record is sent again)",
    # --- transport API pulls (contracts.md 1.3) ---
    "api_item_not_object": "该条目不是JSON对象 (the item is not a JSON object: send every record as an object)",
    "record_deleted_flag": "删除标记deleted“{value}”无效，应为true或false (deleted flag {value} is neither true nor false: correct it)",
    "pull_reject_threshold": "本次拉取错误记录{rejected}条（共{total}条），超过上限{limit}，整批被拒，水位线未前移，下次运行将重新拉取 ({rejected} of {total} records of this pull are wrong, over the limit {limit}: the whole pull is refused and read again next run; correct the records and raise their versions)",
    "pull_failed": "交通接口{endpoint}拉取失败，本次未保存任何记录，水位线保持为{watermark}：{reason} (pulling {endpoint} failed: nothing was stored and the watermark stays; check the API and the connection transport_api, the task is retried)",
    "page_token_expired_repeatedly": "分页令牌连续{times}次过期，每次均已从水位线重新拉取 (the page token expired {times} times in a row, each time the pull started again from the watermark: the API is too slow or its tokens expire early)",
}

_FORMATTER = string.Formatter()


def message(code: str, **params: Any) -> str:
    """The message for a rule code, filled with params; personal data masked.

    Unknown codes fall back to `invalid`; missing params render as empty text.
    """
    template = MESSAGES.get(code, MESSAGES["invalid"])
    values = {name: params.get(name, "") for _, name, _, _ in _FORMATTER.parse(template) if name}
    if not values.get("label") and "label" in values:
        values["label"] = params.get("field") or "该值"
    # Values may be a department's bytes (a file name, a record id): no control character reaches a reader.
    filled = {k: "" if v is None else escape_controls(v) if isinstance(v, str) else v for k, v in values.items()}
    return mask_text(template.format(**filled))
