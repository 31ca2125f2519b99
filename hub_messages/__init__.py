"""The message catalogue: every sentence a clerk or admin reads, Chinese with an English gloss.

One leaf package that imports only the standard library, so both ``connectors/`` (which never
imports the hub's core) and ``credit_exchange/`` take their texts from here.

``CATALOGUE`` maps a code to a template in the house style "中文 (English gloss)": the template
ends with its gloss in parentheses. Technical details (an exception's text, a path, an id) are
appended by the caller after the gloss, e.g. ``text("http_not_json") + f": HTTP {status}"``.

``TERMS`` holds the few short labels that sit inside another message or head a line ("失败
failed", a connection stage): Chinese followed by its gloss without parentheses, because they
are shown inside other brackets. Codes are unique across all four tables.

``LABELS`` holds the Exchange page's headings, column labels and buttons, "中文 English" with the
first space between the two (``label(code)`` splits them; the page shows the English muted).
``WORDS`` holds the few Chinese words that fill a placeholder inside a Chinese part whose gloss
already says it in English (``{expected_zh}`` of the type rule, a missing ``{label}``).

``text(code, **params)`` is plain ``str.format`` over all four; a missing parameter renders as
empty text. The core's ``credit_exchange.standard.messages.message`` adds masking of personal
data and escaping of control characters on top of the same ``CATALOGUE``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

CATALOGUE: dict[str, str] = {
    # ================================================================ records and fields (core)
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
    # details inside csv_header's {detail} (feeds/police/parser.py); the caller appends ": <columns>"
    "csv_header_empty_file": "文件为空 (empty file)",
    "csv_header_unreadable": "表头无法解析 (unreadable header)",
    "csv_header_multiline": "表头不能跨行 (the header must be one line)",
    "csv_header_missing": "缺少 (missing)",
    "csv_header_unknown": "未知 (unknown)",
    "csv_header_duplicate": "重复 (duplicate)",
    "csv_unterminated_quote": "第{line}行开始的带引号字段直到文件末尾都没有结束，文件可能不完整，整个文件被拒 (a quoted field opened on line {line} is never closed, the file may be truncated: send it again)",
    "csv_line_too_long": "第{line}行过长（超过{limit}），文件可能已损坏（如引号未闭合），整个文件被拒 (line {line} is longer than {limit}, the file is probably corrupt, e.g. an unclosed quote: send it again)",
    "csv_quoting": "本行引号不符合CSV规则：{detail}；含逗号、引号或换行的字段须整体加英文双引号，字段内的双引号须写两次 (broken quoting: {detail}; enclose fields holding commas, quotes or line breaks in double quotes and double every quote inside)",
    "csv_field_count": "本行有{found}个字段，表头有{expected}列，请检查是否多出或缺少逗号 (the row has {found} fields but the header {expected} columns: check for extra or missing commas)",
    "record_status": "{label}“{value}”无效，应为“有效”或“撤销” ({label} {value!r} is neither 有效 (in force) nor 撤销 (withdrawn): correct it)",
    # --- inbox monitoring (operations.md "Inbox handling") ---
    "inbox_stuck": "文件“{name}”在收件箱中已{days}天未完成上传（{state}），请联系部门重新完整上传或删除该文件 (the file has sat unfinished in the inbox for {days} days ({state}): ask the department to upload it again completely, or remove it)",
    # --- inbox runs (feeds/inbox.py); the caller appends ": <file names>" or ": <detail>" ---
    "inbox_interrupted": (
        "收件箱接收未完成，{count}个文件将在重试时继续 (inbox run incomplete; these files are taken on the retry)"
    ),
    "inbox_finish_failed": (
        "文件已处理但回执或归档失败，请检查收件服务器 "
        "(the file was processed but its receipt or move failed: check the inbox server)"
    ),
    # --- scheduling ---
    "cycle_late": "{night}夜间交换周期中 {dag_id} 在06:00前未成功完成（{state}），平台可能未收到当晚的数据；请在 Airflow 中查看该 DAG 当晚的运行并处理 (the nightly cycle of {night}: {dag_id} had not succeeded by 06:00 ({state}), so the platforms may lack that night's data: open the DAG's run of that night in Airflow and see what holds it up)",
    # --- pboc pairs (contracts.md 1.4) ---
    "pboc_columns": "本行有{found}列，应为{expected}列（以“|”分隔，删除行可只写前3列） (the line has {found} columns, expected {expected} separated by '|', or 3 for a delete: correct the line)",
    "pboc_op": "操作标志“{value}”无效，应为U（新增或更新）或D（删除） (operation flag {value!r} is neither U (upsert) nor D (delete): correct it)",
    "pboc_encoding": "本行不是有效的UTF-8编码 (the line is not valid UTF-8: save the file as UTF-8 and send it again)",
    "pboc_line_too_long": "本行超过{limit}字节，未读取 (the line is longer than {limit} bytes and was not read: check the file)",
    "pboc_control_malformed": "控制文件{name}不符合约定格式“数据文件名|记录数|SM3”：{detail} (the control file does not read 'data file name|record count|SM3 hex': {detail}; write it again)",
    # details inside pboc_control_malformed's {detail} (feeds/pboc/source.py)
    "pboc_control_not_utf8": "不是UTF-8 (not UTF-8)",
    "pboc_control_lines": "多于一行 (more than one line)",
    "pboc_control_parts": "{parts}段，应为3段 ({parts} parts, expected 3)",
    "pboc_control_sm3": "SM3不是64位十六进制 (SM3 is not 64 hex digits)",
    "pboc_control_count": "记录数不是非负整数 (record count is not a whole number)",
    "pboc_control_too_long": "{size}字节，过长 ({size} bytes: too long)",
    "pboc_control_name": "控制文件中的数据文件名“{found}”应为“{expected}” (the control file names {found!r} instead of {expected!r}: correct the control file)",
    "pboc_data_missing": "有控制文件{control}但没有数据文件{name} (the control file is there but its data file is missing: send the data file)",
    "pboc_digest_mismatch": "数据文件的SM3为{found}，控制文件声明为{declared}，文件可能仍在传输中或已损坏 (the data file's SM3 {found} differs from the announced {declared}: the file may still be in transit, or corrupt)",
    "pboc_count_mismatch": "数据文件有{found}条记录，控制文件声明{declared}条，文件可能仍在传输中或已损坏 (the data file holds {found} records, the control file announces {declared}: the file may still be in transit, or corrupt)",
    "pboc_changed": "数据文件在读取过程中发生变化，文件可能仍在传输中 (the data file changed while it was read: it may still be in transit)",
    "pboc_interrupted": (
        "人行数据接收未完成，{count}对文件将在重试时继续 (PBoC run incomplete; these pairs are taken on the retry)"
    ),
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
    # --- transport pages and runs (feeds/transport/source.py); the caller appends ": <value or detail>" ---
    "transport_no_server_time": "交通接口应答缺少server_time (page has no server_time)",
    "transport_bad_server_time": "交通接口应答的server_time无效 (server_time is not ISO 8601)",
    "transport_server_time_offset": "交通接口应答的server_time缺少时区 (server_time has no offset)",
    "transport_refused": "交通接口拒绝请求（4xx） (the transport API refused the requests)",
    "transport_pull_incomplete": "交通接口拉取未完成，已提交的端点保留 (transport pull incomplete)",
    # ================================================================ SFTP (connectors/sftp.py)
    "sftp_no_pin": (
        "SFTP 连接 {where} 未固定主机公钥，拒绝连接；请在连接的 extra 中设置 host_key"
        "（如 \"ssh-ed25519 AAAA…\"）或 known_hosts 文件路径 "
        "(host key not pinned: set the host_key or known_hosts extra)"
    ),
    "sftp_check_disabled": (
        "SFTP 连接 {where} 设置了 {option}，本系统不允许关闭主机公钥校验；请删除该项并固定主机公钥 "
        "(host key verification may not be turned off: remove {option} and pin the key)"
    ),
    "sftp_bad_host_key": (
        "SFTP 连接 {where} 的 host_key 无法解析：{detail}；格式应为 \"<类型> <base64>\" "
        "(unreadable host_key extra, expected \"<key type> <base64>\")"
    ),
    "sftp_host_key_incomplete": "缺少类型或公钥 (key type or key missing)",
    "sftp_known_hosts_missing": (
        "SFTP 连接 {where} 指定的 known_hosts 文件 {path} 无法读取：{detail} "
        "(known_hosts file unreadable)"
    ),
    "sftp_known_hosts_no_entry": (
        "known_hosts 文件 {path} 中没有 {names} 的公钥，拒绝连接 "
        "(no entry for this host in the known_hosts file)"
    ),
    "sftp_mismatch": (
        "SFTP 服务器 {where} 出示的主机公钥（{key_type} {fingerprint}）与固定的公钥不符，已拒绝连接；"
        "如服务器确实更换了密钥，请核实后更新连接的 host_key "
        "(host key mismatch: possible man-in-the-middle, connection refused)"
    ),
    "sftp_auth": (
        "SFTP 服务器 {where} 拒绝了登录（用户 {login}）：{detail}；请检查连接的 key_file / private_key "
        "(authentication failed)"
    ),
    "sftp_bad_key": "SFTP 连接 {where} 的私钥无法读取：{detail} (unreadable client private key)",
    "sftp_no_host": "SFTP 连接缺少主机地址 (connection has no host)",
    "sftp_connect": "无法连接 SFTP 服务器 {where}：{detail} (could not connect)",
    "sftp_timeout": (
        "SFTP 服务器 {where} 在 {seconds:g} 秒内无响应（{stage}），已放弃 "
        "(timed out during {stage})"
    ),
    "sftp_deadline": (
        "传输 {path} 超过总时限 {seconds:g} 秒，已中止；可调大连接 extra 的 transfer_timeout "
        "(transfer exceeded its overall deadline)"
    ),
    "sftp_lost": "与 SFTP 服务器 {where} 的连接中断：{detail} (connection lost)",
    "sftp_changed": (
        "文件 {path} 在传输过程中发生变化（已读 {read} 字节，服务器现为 {now} 字节），本次结果作废 "
        "(file changed during transfer)"
    ),
    "sftp_upload_size": (
        "上传 {path} 后服务器上的大小为 {remote} 字节，应为 {local} 字节，已放弃 (upload incomplete)"
    ),
    "sftp_target_exists": (
        "目标 {dst} 已存在，未覆盖；请先处理该文件 (target already exists, not overwritten)"
    ),
    "sftp_not_a_directory": "{path} 不是目录 (not a directory)",
    # ================================================================ HTTP and the REST APIs (connectors/)
    # --- signed HTTP client (http_api.py); the caller appends ": <method> <path> ..." ---
    "http_refused": "对方拒绝请求 (request refused)",
    "http_no_host": "连接缺少主机地址 (connection has no host)",
    "http_bad_base_url": "连接的地址无效 (invalid base URL)",
    "http_no_app_key": "连接缺少 app_key 或 app_secret (app_key / app_secret missing in extras)",
    "http_tls_off": "不允许关闭TLS证书校验 (disabling TLS verification is not allowed)",
    "http_tls_failed": "TLS证书校验失败 (TLS verification failed)",
    "http_still_failing": "多次重试后仍失败 (still failing after {attempts} attempts)",
    "http_not_json": "对方返回的不是JSON (response is not JSON)",
    # --- request signatures, server side (signing.py, used by the sandboxes) ---
    "sign_missing_headers": "缺少签名请求头 (signature headers missing)",
    "sign_unknown_app_key": "未知的应用标识 (unknown app key)",
    "sign_bad_timestamp": "时间戳格式错误 (timestamp is not Unix milliseconds)",
    "sign_clock_skew": "时间戳与服务器时间相差超过300秒 (timestamp off by more than 300 s)",
    "sign_bad_nonce": "随机数长度不足16位 (nonce shorter than 16 characters)",
    "sign_bad_query": "查询参数编码错误 (query string is not UTF-8)",
    "sign_bad_signature": "签名不正确 (signature does not match)",
    "sign_nonce_reused": "随机数在10分钟内重复使用 (nonce reused within 10 minutes)",
    # --- transport bureau API (transport_api.py) ---
    "transport_token_expired": (
        "分页令牌已过期，请从水位线重新拉取 (page token expired, restart {endpoint} from the watermark)"
    ),
    "transport_unknown_endpoint": "未知的交通接口 (unknown transport endpoint)",
    "transport_no_items": "交通接口应答缺少 items (page has no items list)",
    "transport_token_repeated": "交通接口重复返回同一分页令牌 (API repeated a page token)",
    # --- county platform (county_platform.py, publish/county/push.py) ---
    "county_no_results": "县平台的批次应答缺少 results (batch answer has no results list)",
    "county_record_not_object": "县平台的记录应答不是对象 (record answer is not an object)",
    "county_batches_undelivered": "未能送达的批次 (batches not delivered, will be resent)",
    "county_batch_transient": "暂时无法送达，下次运行重发 (transient, resent next run)",
    "county_batch_refused": "平台拒绝整个批次 (platform refused the batch)",
    "county_reconcile_left_to_nightly": (
        "本次运行由合并的数据资产触发，对账留待每晚03:30的运行 "
        "(this run was started by merge's asset: reconciling is left to the nightly 03:30 run)"
    ),
    "task_peak_memory": (
        "任务峰值内存{peak} MB，子进程{children} MB，CPU {cpu} 秒 "
        "(task peak memory {peak} MB; child processes {children} MB; CPU {cpu} s)"
    ),
    "county_version_ahead": (
        "县平台持有版本{held}，高于枢纽版本{version}，请核查 "
        "(the county platform holds version {held}, above the hub's {version}: check)"
    ),
    # ================================================================ city receipts (publish/city/xml.py)
    "city_receipt_schema": "回执不符合约定格式 (the receipt does not conform to contracts.md 2.2)",
    "city_receipt_root": "回执的根元素不是 Receipt (the receipt's root element is not Receipt)",
    "city_receipt_other_file": "回执声明的文件 {file} 与 {expected} 不符 (the receipt is for another file)",
    # ================================================================ mail and robot alerts
    # --- e-mail (connectors/mail.py) ---
    "mail_plain_text": (
        "alert_smtp：不允许明文发送邮件，请使用 465 端口 TLS 或 STARTTLS "
        "(alert_smtp asks for plain text: use TLS on 465 or STARTTLS)"
    ),
    "mail_unverified": "alert_smtp：不允许关闭证书校验 (ssl_context other than default: TLS must be verified)",
    "mail_no_starttls": "alert_smtp：服务器未启用 STARTTLS (the server did not start TLS)",
    "mail_no_recipients": "{conn_id}：extra 中缺少收件人 to (no recipients in the extra 'to')",
    # --- alerts (credit_exchange/alerts.py); the line of each alert is the term alert_line ---
    "alert_mail_subject": "[犍为信用交换] {count} 条告警 (alerts)",
    "alert_task_failed": "任务失败且不再重试，请在 Airflow 中查看日志 (task failed for good; see its log in Airflow)",
    # --- inbox watcher (runtime/watch.py) ---
    "watch_inbox_unreachable": "收件箱无法访问 (inbox unreachable)",
    # ================================================================ personal data key (standard/crypto.py)
    "pii_key_format": "pii_key 必须是 32 字节的 URL 安全 base64 (pii_key must be 32 bytes, URL-safe base64)",
    "pii_key_missing": (
        "缺少连接 {conn_id}，拒绝接收个人信息 "
        "(connection {conn_id!r} is missing: the hub refuses personal data without it)"
    ),
    "pii_key_empty": "连接 {conn_id} 没有密钥 (connection {conn_id!r} has no password)",
    "pii_decrypt_field": "无法解密个人信息：pii_key 已更换？ (cannot decrypt personal data: was pii_key changed?)",
    "pii_decrypt_bytes": "无法解密：pii_key 已更换？ (cannot decrypt: was pii_key changed?)",
    "pii_decrypt_record": "无法解密记录：pii_key 已更换？ (cannot decrypt a record: was pii_key changed?)",
    # ================================================================ list rules config (derive/rules.py)
    # rules_error heads every problem below: "config/rules.yaml <key>: 规则配置错误 (...): <problem>".
    "rules_error": "config/rules.yaml {where}: 规则配置错误 (rules configuration error)",
    "rules_conditions_mapping": "应为“字段: 条件”的映射 (expected a mapping of field: condition)",
    "rules_empty_condition": "条件为空 (empty condition)",
    "rules_unknown_condition": "未知条件 {op!r} (unknown condition; use one of {ops})",
    "rules_any_of_list": "any_of 应为列表 (any_of needs a list)",
    "rules_months": "{op} 应为非负整数 (needs a whole number of months)",
    "rules_unknown_record_type": "未知记录类型 {record_type!r} (unknown record type; use one of {types})",
    "rules_latest_shape": "应为 {{count, order_by, consecutive}} (expected count, order_by, consecutive)",
    "rules_count_shape": (
        "应为 {{at_least, span_months, date_field}} (expected at_least, span_months, date_field)"
    ),
    "rules_span_with_date": "span_months 与 date_field 须同时给出 (give span_months together with date_field)",
    "rules_all_of_alone": "all_of 不能与 record_type/where/latest/count 同用 (all_of replaces them)",
    "rules_all_of_list": "应为非空列表 (expected a non-empty list)",
    "rules_listed_date_missing": "黑名单规则须给出列入日期 (a black rule needs listed_date)",
    "rules_year_after_alone": "year_after 单独使用 (year_after stands alone)",
    "rules_listed_date_shape": (
        "应为 {{field, add_months}} 或 {{year_after}} (expected field [+ add_months] or year_after)"
    ),
    "rules_rule_mapping": "应为映射 (expected a mapping)",
    "rules_unknown_keys": "未知键 {keys} (unknown keys)",
    "rules_rule_id": (
        "规则编号 {rule_id!r} 应为 {letter}加数字 (rule id must be a letter and a number, e.g. B1 / R1)"
    ),
    "rules_description_missing": "缺少中文说明 (description missing)",
    "rules_red_listed_date": (
        "红名单的列入日期由连续达标的起始日决定，不可配置 (red listing dates come from the qualifying stretch)"
    ),
    "rules_blocker_shape": "应为 {keys} 的映射 (expected a mapping of those keys)",
    "rules_decided_by_missing": "缺少认定部门 (decided_by missing)",
    "rules_current_record_type": "未知记录类型 (unknown record type)",
    "rules_subject_kind": "应为 {kinds} 之一 (unknown subject kind)",
    "rules_duplicate_ids": "规则编号重复 (duplicate rule ids)",
    # ================================================================ config files (config.py)
    # config_error heads every problem: "<file>:<line>: <key>: 配置错误 (...): <problem>"; the caller
    # appends the technical detail (the parser's or the schema's own words) after ": ".
    "config_error": "配置错误 (configuration error)",
    "config_unreadable": "无法读取 (cannot read the file)",
    "config_empty": "文件为空 (the file is empty)",
    "config_yaml_syntax": "YAML 语法错误 (YAML syntax error)",
    "config_duplicate_key": "同一个键出现两次 (the key is given twice: keep one)",
    "config_unknown_key": "未知的键，请检查拼写 (unknown key: check the spelling)",
    "config_required": "缺少必填的键 (a required key is missing)",
    "config_type": "类型错误 (wrong type)",
    "config_enum": "取值不在允许范围内 (value not allowed)",
    "config_range": "取值超出范围 (value out of range)",
    "config_pattern": "格式不正确 (wrong format)",
    "config_other": "不符合配置规则 (does not fit the rules of this file)",
    "config_not_mapping": "顶层应为键值映射 (the top level must be a mapping of keys)",
    "config_bad_regex": "正则表达式无效 (not a valid regular expression)",
    "config_unknown_record_type": (
        "记录类型{record_type!r}不在字段表 schemas/fields.json 中 "
        "(record type {record_type!r} is not in the field table schemas/fields.json)"
    ),
    "config_threshold_count": "{count} 条 (records)",
    # ================================================================ retry policy (runtime/schedule.py)
    # Why a task fails at once instead of retrying (FailFast).
    "retry_host_key_mismatch": "SFTP 服务器主机公钥与固定的不符 (host key changed)",
    "retry_host_key_not_pinned": "SFTP 连接未正确固定主机公钥 (host key not pinned)",
    "retry_sftp_auth": "SFTP 服务器拒绝登录 (login refused)",
    "retry_http_refused": "对方拒绝请求（4xx，非408/429） (refused with a 4xx other than 408/429)",
    "retry_pii_key": "缺少或无效的 pii_key 连接 (pii_key missing or invalid)",
    "retry_config": "配置文件无效 (invalid configuration)",
    "retry_rules": "红黑名单规则配置无效 (invalid list rules)",
    "retry_not_found": "连接或变量不存在 (a connection or variable is missing)",
    "retry_cannot_help": "重试无济于事 (a retry cannot help)",
    # ================================================================ Exchange page (credit_exchange/web/)
    # --- actions (web/actions.py) ---
    "action_requeued": (
        "文件 {name} 已从隔离区移回收件箱，下次接收运行将重新处理 "
        "(moved from quarantine back to the inbox: the next ingest run takes it again)"
    ),
    "action_already_requeued": "文件 {name} 已在收件箱中，无需重复操作 (already back in the inbox: nothing to do)",
    "action_no_file": "找不到编号为 {file_id} 的接收文件 (no received file with this id)",
    "action_not_quarantined": (
        "文件 {name} 不在隔离区（状态 {status}），无法重新排队 "
        "(not in quarantine: only files refused whole can be re-queued)"
    ),
    "action_no_inbox": (
        "{department} 部门没有可移回的收件箱（只读目录或接口拉取），请联系对方重新提供 "
        "(this department has no inbox the hub may move files into: ask them to deliver again)"
    ),
    "action_bad_name": "文件名 {name!r} 不能安全地移回收件箱 (unsafe file name: not moved)",
    "action_gone": "隔离区中已找不到文件 {path}，可能已被人工处理 (the file is no longer in quarantine: nothing moved)",
    "action_inbox_taken": (
        "收件箱中已有同名文件 {name}，未覆盖；请先处理该文件 "
        "(a file with this name already waits in the inbox: not overwritten)"
    ),
    "action_sftp": "无法连接收件服务器，文件未移动：{detail} (the inbox server could not be reached: nothing moved)",
    "action_unknown_platform": "未知平台 {platform} (unknown platform: county or city)",
    "action_resent_county": (
        "已将 {resent} 条失败记录重新排入县平台推送队列，{superseded} 条已有更新版本无需重发 "
        "({resent} failed records queued for the next push_county; {superseded} superseded by a newer "
        "version)"
    ),
    "action_resent_city": (
        "{adds} 条被拒记录将在下次推送时以 add 重新报送市平台，{withdrawals} 条被拒撤回将重新发送 delete "
        "({adds} refused records go out again as add on the next push_city; {withdrawals} refused "
        "withdrawals are sent again)"
    ),
    # --- page answers (web/app.py); the caller appends the value asked for ---
    "web_login_required": "需要登录 Airflow (Airflow login required)",
    "web_store_unreadable": (
        "无法读取交换库，请检查 exchange_db 连接与运行状态 (cannot read the hub's store: {error}: {detail})"
    ),
    "web_unknown_list": "未知列表 (unknown list)",
    "web_unknown_department": "未知部门 (unknown department)",
    "web_unknown_platform": "未知平台 (unknown platform)",
    "web_not_sftp": "该部门不通过 SFTP 交付 (this department does not deliver over SFTP)",
    "web_live_pairs": "对方目录中尚未接收的数据文件 (data files on their outbox not taken yet)",
    "web_live_inbox": "收件箱中的文件（含上传中的 .tmp） (files in the inbox, uploads included)",
    # --- titles and labels (web/dashboard.py) ---
    "platform_county": "县社会信用信息平台 (county platform, REST)",
    "platform_city": "市信用平台 信用中国（乐山） (city platform, XML over SFTP)",
    "page_waiting": "待处理文件 (files waiting)",
    "page_quarantined": "隔离文件 (files quarantined)",
    "page_rejects": "被拒记录 (records rejected)",
    "page_pending": "待推送记录 (records waiting to be sent)",
    "page_failed_records": "推送失败记录 (records refused or failed)",
    "page_batches": "失败或未完成批次 (batches failed or pending)",
    "page_unreceipted": "未收到回执的文件 (files without receipt)",
    "page_alerts": "未处理告警 (open alerts)",
    "page_data_quality": "数据质量提示 (data-quality warnings)",
    # --- sentences of the page's templates (web/templates.py); its labels are in LABELS ---
    "page_rows": "{count} 条 (rows)",
    "page_nothing_here": "没有记录 (nothing here)",
    # --- the page's access checks (web/auth.py) ---
    "web_forbidden": "无权访问信用交换页面 (not allowed: ask an Airflow admin for access)",
    "web_forbidden_audit": (
        "无权创建资产事件，本操作无法写入审计日志，因此未执行；请让 Airflow 管理员授予该权限（简易认证为 Op 及以上角色） "
        "(not allowed to create asset events, so this action could not be audited and was not done: ask an "
        "Airflow admin for that right, role Op or above with the simple auth manager)"
    ),
    "web_cross_site": "跨站请求被拒绝 (cross-site request refused)",
    "web_foreign_origin": (
        "请求来源无法确认，已拒绝；请在信用交换页面上操作 "
        "(origin missing or foreign: use the buttons on the Exchange page)"
    ),
    # --- chat robot (connectors/chat_robot.py); the caller appends the last answer ---
    "robot_refused": "机器人未接收告警 (the chat robot refused the alert)",
    # --- the store's schema (store/db.py, python -m credit_exchange.store) ---
    "store_not_migrated": (
        "交换库（exchange_db）的结构版本为 {found}（- 表示尚未建立），程序需要 {wanted}；请先运行 "
        "`python -m credit_exchange.store migrate`（部署的初始化步骤） (the store is at revision "
        "{found} (- means none yet), the code needs {wanted}: run `python -m credit_exchange.store migrate`, the "
        "deployment's init step, first)"
    ),
    "store_not_migrated_reason": "数据库未迁移到当前版本 (the store is not at the code's schema revision)",
    "store_unknown_extras": "exchange_db 连接的 extra 含未知参数{unknown}，可用：{known} (unknown extras {unknown}; known: {known})",
    "store_up_to_date": "交换库已是最新结构 {revision} (the store is already at revision {revision})",
    "store_migrated": "交换库已迁移：{before} → {after}（- 表示原为空库） (the store migrated: {before} → {after}; - means empty)",
    "store_at_head": "交换库结构为当前版本 {revision} (the store is at the code's revision)",
    # ================================================================ admin command (credit_exchange/admin/cli.py)
    "cli_description": "犍为县信用交换枢纽管理命令 (the Qianwei credit exchange hub's admin command)",
    "cli_unexpected": "命令未能完成：{detail}；设置 QW_DEBUG=1 可查看详细信息 (the command could not finish; set QW_DEBUG=1 for the details)",
    # --- (end of: admin command) ---
    # ================================================================ pre-flight check (credit_exchange/admin/preflight.py, dags/check_connections.py)
    # --- the table (runtime/preflight.py, admin/check.py) ---
    "preflight_title": "连接预检：逐一检查枢纽的每个连接 (pre-flight check: every connection of the hub, one by one)",
    "preflight_col_conn": "连接 (connection)",
    "preflight_col_result": "结果 (result)",
    "preflight_col_checked": "检查内容 (what was checked)",
    "preflight_problem": "问题 (problem)",
    "preflight_fix": "处理 (what to fix)",
    "preflight_note": "说明 (note)",
    "preflight_status_ok": "正常 (OK)",
    "preflight_status_failed": "失败 (FAILED)",
    "preflight_status_not_configured": "未配置 (not configured)",
    "preflight_all_ok": "全部连接正常 (every connection works)",
    "preflight_some_failed": "{count} 个连接检查失败，请按“处理”一栏修正后重新检查 ({count} connections failed: fix them as the rows say, then check again)",
    "preflight_cli_help": "逐一检查每个连接（SFTP、接口、邮件、机器人、pii_key、交换库） (test every connection: SFTP, APIs, mail, robot, pii_key, store)",
    "preflight_cli_json": "以 JSON 输出，供脚本使用 (print JSON, for scripts)",
    "preflight_cli_timeout": "每项检查的网络限时（秒） (network time-out of each check, in seconds)",
    "preflight_config_error": "读取配置失败，无法确定要检查的连接 (the configuration could not be read, so the connections to check are unknown)",
    # --- what each row checked ---
    "preflight_checked_sftp": "SFTP：主机公钥与固定的一致、登录、列出 {count} 个目录 (SFTP: host key matches the pinned one, login, folders listed: {count})",
    "preflight_checked_http": "签名 GET {paths} (signed GET)",
    "preflight_checked_smtp": "邮件服务器：TLS、登录、NOOP，不发邮件 (mail server: TLS, login, NOOP; no mail sent)",
    "preflight_checked_robot": "机器人地址可达、令牌与签名被接受，不发消息 (chat robot reachable, token and signature accepted; no message posted)",
    "preflight_checked_pii": "pii_key 可解码、可加密解密，并用交换库中的一条记录试开 (pii_key decodes, encrypts and decrypts, and is tried on a record of the store)",
    "preflight_checked_store": "交换库可连接，结构版本与程序一致 (store reachable and at the code's schema revision {head})",
    # --- notes on rows that passed ---
    "preflight_note_host_key": "主机公钥 {key} (host key)",
    "preflight_note_folders_made": "目录 {paths} 尚不存在，首次运行时由枢纽创建 (folders not there yet: the hub makes them on its first run)",
    "preflight_note_optional": "可选的告警通道，未配置时告警只显示在信用交换页面 (an optional alert channel: without it alerts show on the Exchange page only)",
    "preflight_note_sqlite_new": "SQLite 文件 {path} 尚不存在，首个任务会创建并迁移 (the SQLite file does not exist yet: the first task creates and migrates it)",
    "preflight_note_sqlite_behind": "SQLite 交换库的结构版本为 {found}，首个任务会自动迁移到 {head} (the SQLite store is at revision {found}: the first task migrates it to {head})",
    "preflight_note_pii_sample": "已用交换库中的一条记录验证该密钥 (the key was tried on a record of the store)",
    "preflight_note_pii_no_sample": "交换库中尚无记录，未能用记录验证该密钥 (the store holds no record yet to try the key on)",
    "preflight_note_revision": "结构版本 {revision} (schema revision)",
    # --- what is wrong ---
    "preflight_conn_missing": "连接 {conn_id} 未配置 (connection {conn_id} is not defined)",
    "preflight_conn_env_unreadable": (
        "环境变量 {env} 已设置，但 Airflow 无法解析其内容 "
        "(the variable {env} is set, but Airflow cannot read it: not valid JSON or URI)"
    ),
    "preflight_conn_unreadable": "连接 {conn_id} 无法读取：{detail} (the connection could not be read)",
    "preflight_host_key_mismatch": "服务器出示的主机公钥为 {seen}，固定的为 {pinned}，两者不符，已拒绝连接 (the server showed host key {seen}, the pinned one is {pinned}: they differ, connection refused)",
    "preflight_folder_missing": "目录 {path} 不存在 (folder {path} does not exist)",
    "preflight_folder_denied": "无权列出目录 {path} (not allowed to list folder {path})",
    "preflight_folder_failed": "列出目录 {path} 失败：{detail} (listing folder {path} failed)",
    "preflight_http_refused": "对方拒绝请求：HTTP {status}{error} (refused with HTTP {status})",
    "preflight_http_unreachable": "无法连接 {url}：{detail} (could not reach the server)",
    "preflight_http_unavailable": "对方暂时不可用：HTTP {status} (temporarily unavailable)",
    "preflight_http_answer": "应答不符合接口约定：{detail} (the answer does not follow the contract)",
    "preflight_smtp_auth": "邮件服务器拒绝登录：{reply} (the mail server refused the login)",
    "preflight_smtp_tls": "邮件服务器的 TLS 证书校验失败：{detail} (the mail server's TLS certificate could not be verified)",
    "preflight_smtp_refused": "邮件服务器拒绝：{detail} (the mail server refused)",
    "preflight_unreachable": "无法连接 {server}：{detail} (could not reach the server)",
    "preflight_timed_out": "{server} 在 {seconds:g} 秒内无应答 (no answer within {seconds:g} s)",
    "preflight_robot_token": "机器人不认可令牌（errcode {errcode}） (the robot does not know the token)",
    "preflight_robot_sign": "机器人不认可签名（errcode {errcode}） (the robot refused the signature)",
    "preflight_robot_http": "机器人地址应答 HTTP {status}，不是机器人的应答 (the robot's address answered HTTP {status}, not as a robot does)",
    "preflight_store_unreachable": "无法连接交换库：{detail} (could not reach the store)",
    "preflight_store_unknown_revision": "交换库的结构版本 {found} 不为本程序所知，程序需要 {head} (the store is at revision {found}, which this code does not know; it needs {head})",
    "preflight_sqlite_folder": "SQLite 文件所在目录 {path} 不存在或不可写 (the SQLite file's folder does not exist or is not writable)",
    "preflight_check_limit": "检查在 {seconds:g} 秒内未完成，已放弃 (the check did not finish within {seconds:g} s)",
    "preflight_unexpected": "检查出错：{detail} (the check failed unexpectedly)",
    # --- what to fix ---
    "preflight_fix_add_conn": "在 Airflow 界面“管理 → 连接”中创建 {conn_id}，或设置环境变量 {env}（JSON 格式，见 docs/contracts.md 第3节） (create {conn_id} under Admin → Connections in the UI, or set the environment variable {env} in JSON form, docs/contracts.md section 3)",
    "preflight_fix_conn_json": "修正该连接的定义（环境变量须为 Airflow 的 JSON 格式） (correct the connection's definition: an environment variable must hold Airflow's JSON form)",
    "preflight_fix_settings": "按上面的问题修正连接的设置 (correct the connection's settings as the problem says)",
    "preflight_fix_pin": "向服务器管理员索取主机公钥及其指纹，核对无误后写入连接 extra 的 host_key；切勿未经核对接受任何公钥 (get the server's host key and its fingerprint from the server's admin, compare them, then put the key in the host_key extra; never accept a key unchecked)",
    "preflight_fix_host_key": "先向服务器管理员核实是否更换了主机密钥；确认后再把新公钥写入 host_key；未经确认请勿连接，这可能是中间人攻击 (ask the server's admin whether the host key was changed and update host_key only once confirmed; until then do not connect, it may be a man-in-the-middle)",
    "preflight_fix_sftp_auth": "检查连接的用户名，以及私钥（key_file / private_key）或密码是否与服务器上的账户一致 (check the login, and that the private key or password matches the account on the server)",
    "preflight_fix_unreachable": "检查服务器是否在运行，连接的主机和端口是否正确，防火墙是否放行 (check that the server is running, that the connection's host and port are right and that the firewall lets the hub through)",
    "preflight_fix_timeout": "检查网络与防火墙，以及服务器是否过载；必要时调大连接的超时设置 (check the network and the firewall and whether the server is overloaded; raise the connection's time-outs if need be)",
    "preflight_fix_folder_missing": "在服务器上创建缺少的目录，或修正 config/departments.yaml 中该部门的 root (create the missing folders on the server, or correct the department's root in config/departments.yaml)",
    "preflight_fix_folder_denied": "请服务器管理员为枢纽的账户开放这些目录的权限 (ask the server's admin to give the hub's account access to these folders)",
    "preflight_fix_signature": "检查连接 extra 中的 app_key 和 app_secret 是否与对方分配的一致，并确认本机时钟与标准时间相差不超过 300 秒 (check that app_key and app_secret in the extras are the ones the other side issued, and that this machine's clock is within 300 s of true time)",
    "preflight_fix_http_refused": "检查连接的地址（host，含路径）是否正确，必要时联系对方 (check the connection's base URL and path; ask the other side if need be)",
    "preflight_fix_http_unavailable": "稍后重新检查；持续出现请联系对方运维 (check again later; if it persists, contact the other side's operators)",
    "preflight_fix_tls": "如对方使用内部 CA，请在连接 extra 的 ca_bundle 中指定该 CA 的证书；否则核对地址是否正确 (if the server uses a private CA, name its certificate in the ca_bundle extra; otherwise check the address)",
    "preflight_fix_answer": "确认连接的地址指向正确的系统，并联系对方核实接口版本 (check that the address points at the right system, and ask the other side about the API's version)",
    "preflight_fix_recipients": "在 alert_smtp 连接的 extra 中加入 to（收件人，逗号分隔） (add 'to', comma-separated recipients, to the alert_smtp extras)",
    "preflight_fix_smtp_auth": "检查 alert_smtp 连接的用户名和密码（授权码） (check the alert_smtp login and password or app password)",
    "preflight_fix_smtp_tls": "如邮件服务器使用内部 CA，请在连接 extra 的 ca_file 中指定该 CA 的证书；并确认端口与 TLS 方式相符（465 为 TLS，其他端口为 STARTTLS） (if the mail server uses a private CA, name its certificate in the ca_file extra; and check the port matches the TLS mode: 465 TLS, others STARTTLS)",
    "preflight_fix_robot_token": "把机器人的 access_token（钉钉）或 key（企业微信）填入 alert_webhook 连接的 password (put the robot's access_token (DingTalk) or key (WeCom) in the alert_webhook password)",
    "preflight_fix_robot_sign": "检查 alert_webhook 连接 extra 的 secret（加签密钥），并确认本机时钟准确 (check the secret extra, the robot's signing secret, and this machine's clock)",
    "preflight_fix_robot_http": "检查 alert_webhook 连接的 host 是否为机器人的完整地址（含 /robot/send 或 /cgi-bin/webhook/send） (check that the host is the robot's full address, with /robot/send or /cgi-bin/webhook/send)",
    "preflight_fix_pii_new": "新部署可生成新密钥：python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"；已有数据时必须找回原来的密钥 (a new deployment may generate a key with the command shown; with data in the store, restore the original key)",
    "preflight_fix_pii_restore": "该密钥打不开交换库中的记录：请恢复加密这些记录时使用的 pii_key (the key does not open the store's records: restore the pii_key they were sealed with)",
    "preflight_fix_store": "检查 exchange_db 的主机、端口、数据库名、用户和密码，以及数据库是否在运行 (check the host, port, database, login and password of exchange_db, and that the database is running)",
    "preflight_fix_migrate": "运行 python -m credit_exchange.store migrate（部署的初始化步骤） (run python -m credit_exchange.store migrate, the deployment's init step)",
    "preflight_fix_code_version": "运行与交换库结构版本一致的程序版本，切勿降级已迁移的数据库 (run the code version that matches the store; never downgrade a migrated store)",
    "preflight_fix_sqlite_folder": "创建该目录并允许 Airflow 的用户写入，或修正 exchange_db 的路径 (create the folder and let Airflow's user write there, or correct the exchange_db path)",
    "preflight_fix_log": "查看任务日志或以 --json 重新运行，必要时联系枢纽维护人员 (see the task log or run again with --json; contact the hub's maintainers if need be)",
    "preflight_failed_task": "连接预检失败：{count} 个连接有问题 (pre-flight check failed: {count} connections have problems)",
    # --- (end of: pre-flight check) ---
    # ================================================================ admin subcommands: status, alerts, requeue, resend (credit_exchange/admin/)
    # --- Airflow's REST API (connectors/airflow_api.py) ---
    "airflow_api_no_host": "未配置 airflow_api 连接的 API 服务器地址 (the airflow_api connection names no API server host)",
    "airflow_api_bad_timeout": (
        "airflow_api 连接的 timeout 附加项“{value}”不是正数秒数 (the timeout extra of the airflow_api connection is not a positive number of seconds)"
    ),
    "airflow_api_no_account": "airflow_api 连接缺少登录名或密码 (the airflow_api connection has no login or password)",
    "airflow_api_unreachable": "无法连接 Airflow API 服务器 {url} (the Airflow API server did not answer)",
    "airflow_api_login_refused": "Airflow 拒绝了账号 {login} 的登录 (Airflow refused the login of this account)",
    "airflow_api_forbidden": "Airflow 拒绝了请求 {what} (Airflow refused the request: token or permission)",
    "airflow_api_not_found": "Airflow 中找不到 {what} (not found in Airflow)",
    "airflow_api_no_asset": "Airflow 中尚未登记资产 {uri} (the asset is not registered in Airflow yet)",
    "airflow_api_bad_answer": "Airflow 对 {what} 的回答无法识别 (unexpected answer from Airflow)",
    # --- Airflow's audit log (credit_exchange/audit.py) ---
    "audit_not_written": "操作已完成，但未写入 Airflow 审计日志 (the action is done, but it is not in Airflow's audit log)",
    "audit_fix_not_configured": (
        "处理：在 docker/connections.env 中配置 airflow_api 连接（API 服务器地址及可创建资产事件的账号），"
        "再在 Airflow 中补记此操作 (fix: define the airflow_api connection with the API server and an account "
        "allowed to create asset events, then note this action in Airflow)"
    ),
    "audit_fix_unreachable": (
        "处理：启动 Airflow API 服务器（docker compose up -d airflow-apiserver）或改正 airflow_api 连接的地址 "
        "(fix: start the Airflow API server or correct the airflow_api host)"
    ),
    "audit_fix_login_refused": "处理：核对 airflow_api 连接的登录名和密码 (fix: check the login and password of the airflow_api connection)",
    "audit_fix_forbidden": (
        "处理：该账号需有创建资产事件的权限（简易认证为 Op 及以上角色） "
        "(fix: the account needs the right to create asset events: role Op or above with the simple auth manager)"
    ),
    "audit_fix_not_found": (
        "处理：资产 {uri} 由 check_nightly_cycle 登记，请确认 dag-processor 已解析 DAG（或运行 airflow dags reserialize） "
        "(fix: the asset is registered when check_nightly_cycle is parsed: check the dag-processor, or run "
        "airflow dags reserialize)"
    ),
    "audit_fix_bad_answer": "处理：查看 API 服务器日志 (fix: read the API server's log)",
    "audit_entry_below": "未写入的审计条目如下（已脱敏），可附在工单中 (the entry that was not written, masked, for the ticket)",
    "audit_written": "已写入 Airflow 审计日志 (written to Airflow's audit log)",
    # --- alerts (credit_exchange/alerts.py) ---
    "alerts_none_given": "未指定告警编号 (no alert id given)",
    "alerts_note_required": "请用 --note 说明处理情况 (say what was done with --note)",
    "alerts_unknown": "找不到告警 {ids}，未关闭任何告警 (no such alert: nothing was closed)",
    "alerts_resolved": "已关闭告警 {resolved} 条，此前已关闭 {already} 条 ({resolved} alerts closed, {already} were closed already)",
    "alerts_none": "没有符合条件的告警 (no alerts match)",
    "alerts_resolve_button": "关闭告警 (resolve)",
    "alerts_note_placeholder": "处理说明（必填） (what was done: required)",
    # --- qianwei-hub subcommands (credit_exchange/admin/) ---
    "admin_store_unreadable": "无法读取交换库（exchange_db 连接） (the store could not be read: check the exchange_db connection and that the store is migrated)",
    "admin_unknown_department": "未知部门 {department}，可选：{known} (unknown department)",
    "admin_bad_ids": "县平台的编号须为整数：{ids} (county ids are outbox item numbers: integers)",
    "admin_help_json": "以 JSON 输出 (print JSON instead of a table)",
    "admin_help_actor": "操作人（默认为当前系统用户） (who acts: written to the audit log; default the OS user)",
    "admin_help_status": "各部门与平台的当前状态 (status per department and platform)",
    "admin_help_alerts": "查看和关闭告警 (list and resolve alerts)",
    "admin_help_alerts_list": "列出告警（默认仅未处理） (list alerts: open ones unless --all)",
    "admin_help_alerts_open": "仅未处理的告警（默认） (open alerts only: the default)",
    "admin_help_alerts_all": "全部告警，含已关闭 (all alerts, resolved ones too)",
    "admin_help_alerts_department": "仅该部门及其 DAG 的告警 (only the alerts of this department and its DAGs)",
    "admin_help_alerts_resolve": "处理完毕后关闭告警 (close alerts once dealt with)",
    "admin_help_alert_ids": "告警编号 (alert ids)",
    "admin_help_note": "处理说明（必填，写入审计日志） (what was done: required, goes to the audit log)",
    "admin_help_requeue": "将隔离文件移回收件箱 (move a quarantined file back into its inbox)",
    "admin_help_file_id": "接收文件编号（状态页隔离列表中的 file_id） (the received file's id, file_id in the list of quarantined files)",
    "admin_help_resend": "重新推送平台拒收或失败的记录 (queue refused or failed records for the next push)",
    "admin_help_platform": "平台：county 县平台，city 市平台 (platform: county or city)",
    "admin_help_ids": "仅这些记录（县平台：outbox 编号；市平台：记录编号） (only these: county outbox item ids, city record ids)",
    "status_departments": "部门（接收） (departments, inbound)",
    "status_platforms": "平台（推送） (platforms, outbound)",
    "status_generated": "生成时间 {at}，被拒记录按近 {days} 天统计 (generated at {at}; records rejected over the last {days} days)",
    "status_col_department": "部门 (department)",
    "status_col_last_run": "最近一次接收 (last ingest run)",
    "status_col_files": "文件 接收/拒收/隔离 (files taken/rejected/quarantined)",
    "status_col_records": "记录 接受/拒绝 (records accepted/rejected)",
    "status_col_last_success": "最近成功 (last success)",
    "status_col_stuck": "处理中/收件箱滞留 (in processing/stuck in inbox)",
    "status_col_quarantined": "隔离中 (quarantined now)",
    "status_col_alerts": "告警 (open alerts)",
    "status_col_platform": "平台 (platform)",
    "status_col_pending": "待推送/待回执 (pending)",
    "status_col_sent": "已送达 (sent)",
    "status_col_failed": "失败 (failed)",
    "status_col_overdue": "回执超时 (receipts overdue)",
    "status_totals": "未处理告警共 {alerts} 条，数据质量提示 {quality} 条 ({alerts} open alerts, {quality} data-quality warnings)",
    "status_never": "从未 (never)",
    "alerts_col_id": "编号 (id)",
    "alerts_col_kind": "类型 (kind)",
    "alerts_col_source": "来源 (source)",
    "alerts_col_subject": "对象 (subject)",
    "alerts_col_created": "产生时间 (raised at)",
    "alerts_col_resolved": "关闭时间 (resolved at)",
    "alerts_col_resolved_by": "关闭人 (resolved by)",
    "alerts_col_note": "处理说明 (note)",
    "alerts_col_message": "说明 (message)",
    # --- (end of: admin subcommands: status, alerts, requeue, resend) ---
    # ================================================================ lineage and the page per run (credit_exchange/web/lineage.py, web/run_view.py)
    # --- lineage search (web/lineage.py; the page's search and `qianwei-hub lineage`) ---
    "lineage_empty_query": (
        "请输入记录编号、统一社会信用代码、身份证号码或文件名 "
        "(give a record id, a USCC, an ID number or a file name)"
    ),
    "lineage_not_found": (
        "未找到“{query}”，已按{searched_zh}查询；请核对后重试，或改用文件名、记录编号查询 "
        "(nothing found for {query}, searched as {searched}: check the value, or search by file name or record id)"
    ),
    "lineage_found": "找到 {records} 条记录、{files} 个文件，匹配：{matched_zh} ({records} records and {files} files found, matched as {matched})",
    "lineage_needs_key": (
        "按身份证号码查询需要个人信息密钥（pii_key 连接），未按身份证号码查询 "
        "(searching by ID number needs the pii_key connection: not searched by ID number)"
    ),
    "lineage_cli_help": (
        "显示一条记录、一个主体或一个文件的来龙去脉：来源文件与位置、版本、拒收原因、推送与回执 "
        "(show where a record, a subject or a file came from and went to: files, positions, versions, rejects, pushes, receipts)"
    ),
    "lineage_cli_json": "以 JSON 输出（与信用交换页面的接口相同） (print the JSON answer the Exchange page's API gives)",
    "lineage_cli_query": (
        "记录编号、统一社会信用代码、身份证号码或文件名；写 - 则从标准输入读取，身份证号码不留在命令历史和进程列表中 "
        "(record id, USCC, ID number or file name; - reads it from standard input, so an ID number stays "
        "out of the shell history and ps)"
    ),
    "lineage_store_unopened": (
        "无法打开交换库，请检查 exchange_db 连接 (cannot open the hub's store: check the exchange_db connection)"
    ),
    # --- the page per run (web/lineage.py run_view, the dag run's tab in the Airflow UI) ---
    "run_found": (
        "本次运行接收 {files} 个文件，发送 {batches} 个县平台批次、{city_files} 个市平台文件 "
        "(this run took {files} files and sent {batches} county batches and {city_files} city files)"
    ),
    "run_nothing": (
        "交换库中没有该运行的记录：它未接收或发送数据，或运行于交换库记录运行编号之前 "
        "(the store holds nothing for this run: it took and sent nothing, or ran before the store recorded runs)"
    ),
    "run_missing_ids": "缺少 dag_id 或 run_id 参数 (dag_id and run_id are required)",
    "run_outcomes_now": (
        "批次和市平台文件的记录结果为记录的当前状态（交换库不按批次或文件保存平台答复与回执明细）；"
        "此后重新推送的记录计为 resent，其结果见新的批次或文件 "
        "(the record outcomes of batches and city files are the records' state now: the store keeps no "
        "answer or receipt items per batch or file; records sent again since count as resent, their "
        "outcome is in the newer batch or file)"
    ),
    "run_more": (
        "本次运行的内容较多，另有 {files} 个文件、{batches} 个批次、{city_files} 个市平台文件未显示，合计数包含全部 "
        "(a large run: {files} more files, {batches} more batches and {city_files} more city files not shown; "
        "the totals count them all)"
    ),
    "lineage_more": (
        "匹配较多，另有 {records} 条记录、{files} 个文件未显示，请改用记录编号或文件名缩小查询 "
        "(many matches: {records} more records and {files} more files not shown; search by record id or "
        "file name to narrow it)"
    ),
    # --- (end of: lineage and the page per run) ---
    # ================================================================ metrics (credit_exchange/runtime/metrics.py)
    "asset_name_withheld": "（文件名不符合约定格式，未列出） (a name not of the agreed pattern: withheld)",
    # --- (end of: metrics) ---
    # ================================================================ Airflow-native details: display names, asset extras, replay, retention
    # --- housekeeping: retention of the store and Airflow's database (runtime/housekeeping.py) ---
    "db_clean_failed": (
        "airflow db clean 失败（退出码 {status}），Airflow 元数据库未清理；请查看本任务日志中的输出 "
        "(airflow db clean failed with exit status {status}, Airflow's database was not cleaned: read its output in this task's log)"
    ),
    # --- replaying a day: the replay_date param (runtime/schedule.py) and qianwei-hub replay (admin/replay.py) ---
    "param_replay_date_title": "重放日期 (replay date)",
    "param_replay_date": (
        "按此日期（YYYY-MM-DD，犍为县时间）处理；留空则用本次运行的逻辑日期 "
        "(run for this day, YYYY-MM-DD in Asia/Shanghai; empty: the run's logical date)"
    ),
    "replay_help": "为指定日期启动各 DAG 的回填运行（airflow backfill create） (start a backfill of each DAG for one day)",
    "replay_day_help": "日期 YYYY-MM-DD (the day, YYYY-MM-DD)",
    "replay_dag_help": "只重放这些 DAG，可重复；默认按夜间顺序重放全部 (only these DAGs, repeatable; default: every DAG of the night, in order)",
    "replay_dry_run_help": "只显示将创建的运行，不启动 (show the runs it would create, start nothing)",
    "replay_bad_day": "日期“{day}”无效，应为 YYYY-MM-DD 格式的真实日期 (not a real day in the form YYYY-MM-DD)",
    "replay_unknown_dag": "未知的 DAG {dag_id}，可重放：{known} (unknown DAG; these can be replayed: {known})",
    "replay_started": "已启动回填：{dag_id}，{day}（{start} 至 {end}） (backfill started: {dag_id} for {day}, window {start} to {end})",
    "replay_dry_run": "试运行：{dag_id}，{day} 将创建的运行如下 (dry run: the runs a backfill of {dag_id} for {day} would create)",
    "replay_failed": "{dag_id} 的回填未能启动（退出码 {status}）：{detail} (the backfill of {dag_id} did not start, exit status {status})",
    "replay_wait_help": "等待前一个 DAG 的回填运行结束的最长分钟数，默认 180 (how many minutes to wait for one DAG's backfill to finish before the next starts; default 180)",
    "replay_no_wait_help": "同时启动全部回填，不等待（仅用于互不依赖的 DAG） (start every backfill at once, without waiting: only for DAGs that do not depend on each other)",
    "replay_bad_wait": "--wait 不能为负数 (--wait must not be negative)",
    "replay_waiting": "等待 {dag_id} 的回填运行结束（最多 {minutes} 分钟），再启动下一个 DAG (waiting for the backfill of {dag_id} to finish, at most {minutes} minutes, before the next DAG)",
    "replay_run_failed": "{dag_id} 在 {day} 的回填运行失败，重放到此为止；请在 Airflow 界面查看该运行的日志 (the backfill run of {dag_id} for {day} failed: the replay stops here; see that run's log in the Airflow UI)",
    "replay_timeout": "{dag_id} 在 {day} 的回填运行 {minutes} 分钟内未结束，重放到此为止；调度器是否在运行？ (the backfill run of {dag_id} for {day} did not finish within {minutes} minutes: the replay stops here; is the scheduler running?)",
    "replay_wait_failed": "无法查询 {dag_id} 的回填运行状态：{detail} (could not read the state of the backfill runs of {dag_id})",
    "replay_not_started": "以下 DAG 未启动回填：{dags}；处理后用 --dag 单独重放 (these DAGs were not started: replay them with --dag once the cause is fixed)",
    "replay_next": "回填由调度器执行：请在 Airflow 界面的各 DAG 网格视图中查看（运行类型 backfill） (the scheduler runs the backfills: follow them in each DAG's grid view in the Airflow UI, run type backfill)",
    # --- (end of: Airflow-native details: display names, asset extras, replay, retention) ---
    # ================================================================ store TLS and pii_key rotation (store/db.py, standard/crypto.py, admin/rotate.py)
    # --- the pii_key key ring (standard/crypto.py) ---
    "pii_keyring_format": (
        'pii_key 的密码应为一个密钥，或 JSON {{"current": 新密钥, "previous": [旧密钥, ...], "subject": 主体密钥}} '
        '(the pii_key password must be one key, or JSON with current, previous and subject keys)'
    ),
    "pii_keyring_no_subject": (
        "pii_key 含旧密钥但未指定 subject：主体哈希必须继续使用最初的密钥 "
        "(previous keys but no subject key: subjects must stay hashed with the first key; set subject to it)"
    ),
    "pii_key_unknown_id": (
        "该值由密钥 {key_id} 加密，pii_key 中没有此密钥；请把它放回 previous，并运行 qianwei-hub rotate-key "
        "(the value was sealed with key {key_id}, which pii_key no longer holds: put it back into previous "
        "and run qianwei-hub rotate-key)"
    ),
    # --- qianwei-hub rotate-key (admin/rotate.py, store/reseal.py) ---
    "rotate_help": "用 pii_key 的当前密钥重新加密交换库中的全部密封值 (re-seal every sealed value of the store with pii_key's current key)",
    "rotate_check_help": "只统计，不修改 (count only, change nothing)",
    "rotate_batch_help": "每批行数 (rows per batch)",
    "rotate_heading": "密钥轮换：当前密钥 {key_id}，可解密的密钥 {key_ids} (key rotation: current key {key_id}; keys that open values: {key_ids})",
    "rotate_column": "{column}：重新加密 {resealed} 个，已是当前密钥 {current} 个 ({column}: {resealed} re-sealed, {current} already current)",
    "rotate_column_check": "{column}：待重新加密 {left} 个，已是当前密钥 {current} 个 ({column}: {left} to re-seal, {current} already current)",
    "rotate_done": (
        "交换库的全部密封值均已使用当前密钥 {key_id}；可从 pii_key 的 previous 中移除旧密钥（subject 保留） "
        "(every sealed value of the store is under the current key {key_id}: the previous keys can be removed "
        "from pii_key; keep subject)"
    ),
    "rotate_left": (
        "仍有 {left} 个密封值未使用当前密钥，暂不要移除旧密钥；请再次运行 qianwei-hub rotate-key "
        "({left} sealed values are not under the current key yet: keep the previous keys and run "
        "qianwei-hub rotate-key again)"
    ),
    "rotate_failed": "密钥轮换中断，已完成的批次保留，可直接重新运行 (the rotation stopped; the batches done are kept, run it again)",
    # --- (end of: store TLS and pii_key rotation) ---
}

# Short labels shown inside other messages' brackets or heading a line: "中文 English", no parentheses.
TERMS: dict[str, str] = {
    # --- SFTP connection stages, inside sftp_timeout's "（{stage}）" ---
    "sftp_stage_connect": "连接与认证 connect and authenticate",
    "sftp_stage_channel": "打开 SFTP 通道 opening the SFTP channel",
    "sftp_stage_banner": "协议标识 banner",
    "sftp_stage_handshake": "握手 handshake",
    # --- alerts: one line per alert in the robot and e-mail text, and cycle_late's "（{state}）" ---
    "alert_line": "[犍为信用交换 Qianwei hub] {kind} · {source} · {subject}\n{message}",
    "cycle_state_failed": "失败 failed",
    "cycle_state_running": "仍在运行 still running",
    "cycle_state_not_run": "未运行 never ran",
    # --- inbox: a file's kind inside file_not_regular's "（{kind}）", a state inside inbox_stuck's ---
    "inbox_kind_link": "符号链接 symbolic link",
    "inbox_kind_other": "特殊文件 FIFO, socket or device",
    "inbox_kind_dir": "目录 directory",
    "inbox_state_tmp": "上传未完成 .tmp upload not finished",
    "inbox_state_changing": "仍在变化 still changing",
    # --- police CSV: csv_line_too_long's {limit}, and an empty name in csv_header_unknown's list ---
    "csv_limit_characters": "{limit} 字符 characters",
    "csv_limit_bytes": "{limit} 字节 bytes",
    "csv_empty_column_name": "空列名 empty name",
}


# Headings, column labels and buttons of the Exchange page (credit_exchange/web/templates.py):
# "中文 English", the first space between the two (the page shows the English in a muted span).
LABELS: dict[str, str] = {
    # --- every page ---
    "ui_exchange": "信用交换 Exchange",
    "ui_back_to_overview": "返回总览 back to the overview",
    "ui_back_to_list": "返回列表 back to the list",
    "ui_generated": "生成时间 generated",
    "ui_user": "用户 user",
    "ui_never": "从未 never",
    # --- overview: departments ---
    "ui_departments": "部门 Departments (inbound)",
    "ui_department": "部门 department",
    "ui_last_received": "最近成功接收 last successful transfer",
    "ui_files_waiting": "待处理文件 files waiting",
    "ui_live": "实时 live in inbox",
    "ui_files_quarantined": "隔离文件 files quarantined",
    "ui_rejected_recent": "被拒记录（近{days}天） records rejected, last {days} days",
    "ui_open_alerts": "告警 open alerts",
    "ui_rejects_by_rule": "被拒原因 rejects by rule",
    "ui_rule_code": "规则 rule code",
    "ui_count": "条数 count",
    "ui_message_latest": "说明（最近一例） message, latest example",
    "ui_file": "文件 file",
    "ui_position": "位置 position",
    "ui_field": "字段 field",
    "ui_code": "规则 code",
    "ui_message": "说明 message",
    # --- overview: platforms and totals ---
    "ui_platforms": "平台 Platforms (outbound)",
    "ui_platform": "平台 platform",
    "ui_last_pushed": "最近成功推送 last successful transfer",
    "ui_records_pending": "待推送/待回执记录 records pending",
    "ui_records_failed": "失败记录 records failed",
    "ui_batches_prepared": "未完成批次/文件 batches / files prepared",
    "ui_batches_failed": "失败批次 batches failed",
    "ui_files_unreceipted": "无回执文件 files without receipt",
    "ui_receipts_overdue": "回执超时（>24小时） receipts overdue, >24 h",
    "ui_other": "其他 Other",
    "ui_alerts_all": "未处理告警 open alerts, all sources",
    "ui_data_quality": "数据质量提示 data-quality warnings",
    # --- detail lists and their buttons ---
    "ui_action": "操作 action",
    "ui_resend_all": "全部重新推送 re-send all failed records",
    "ui_resend": "重新推送 re-send",
    "ui_requeue": "重新排队 re-queue",
    # --- lineage search and the page per run (web/lineage.py, web/run_view.py) ---
    "ui_run_tab": "信用交换 Exchange: this run",
    "lineage_kind_record": "记录编号 record id",
    "lineage_kind_uscc": "统一社会信用代码 USCC",
    "lineage_kind_id_number": "身份证号码 ID number",
    "lineage_kind_file": "文件名 file name",
    "lineage_kind_dept_record": "部门记录编号 department's record id",
    "ui_lineage": "数据溯源 Lineage",
    "ui_lineage_search": "溯源查询 Lineage search",
    "ui_lineage_hint": "记录编号、统一社会信用代码、身份证号码或文件名 record id, USCC, ID number or file name",
    "ui_search": "查询 search",
    "ui_record": "记录 record",
    "ui_current": "当前版本 current version",
    "ui_deliveries": "接收经过 deliveries",
    "ui_versions": "枢纽版本 hub versions",
    "ui_county_pushes": "县平台推送 county platform pushes",
    "ui_city_state": "市平台状态 city platform state",
    "ui_receipt": "回执 receipt",
    "ui_run": "运行 Airflow run",
    "ui_received_at": "接收时间 received",
    "ui_status": "状态 status",
    "ui_stored_path": "存放位置 stored at",
    "ui_ordinal": "序号 record no.",
    "ui_outcome": "结果 outcome",
    "ui_hub_version": "枢纽版本 hub version",
    "ui_dept_version": "部门版本 department version",
    "ui_op": "操作类型 op",
    "ui_batch": "批次 batch",
    "ui_batch_status": "批次状态 batch status",
    "ui_answer": "平台答复 platform answer",
    "ui_time": "时间 time",
    "ui_dept_record_id": "部门记录编号 department's record id",
    "ui_records_in_file": "文件中的记录 records in the file",
    "ui_run_view": "本次运行 This run",
    "ui_run_files": "接收的文件 files taken",
    "ui_run_rejects": "被拒记录及原因 rejects and their reasons",
    "ui_run_batches": "县平台批次 county batches",
    "ui_run_city_files": "市平台文件 city platform files",
    "ui_total": "合计 total",
    "ui_accepted": "接收 accepted",
    "ui_rejected": "拒收 rejected",
    "ui_unchanged": "未变 unchanged",
    "ui_stale": "过期 stale",
    "ui_records_count": "记录数 records",
    "ui_attempts": "发送次数 attempts",
    "ui_record_outcomes": "记录当前状态 records' state now",
    "ui_shown_first": "仅显示前{count}条 first {count} shown",
    # --- (end of: lineage search and the page per run) ---
    # --- Airflow display names of the DAGs and tasks (runtime/schedule.py display_name, dags/) ---
    # "中文 id": the Chinese name the zh-CN UI shows, then the DAG or task id that the docs, the
    # alerts and the CLI use (the UI's search matches the display name, so the id stays findable).
    "dag_ingest": "{department_zh}数据接收 ingest_{department}",
    "dag_watch_inbox": "{department_zh}收件箱监视 watch_{department}_inbox",
    "dag_merge_credit": "合并信用记录并认定红黑名单 merge_credit",
    "dag_push_county": "推送县信用平台 push_county",
    "dag_push_city": "推送市信用平台 push_city",
    "dag_collect_city_receipts": "收取市平台回执 collect_city_receipts",
    "dag_publicity_expiry": "撤下到期公示 publicity_expiry",
    "dag_check_nightly_cycle": "夜间周期检查 check_nightly_cycle",
    "dag_check_connections": "连接预检 check_connections",
    "dag_housekeeping": "数据保留清理 housekeeping",
    "task_take_files": "接收收件箱文件 take_{department}_files",
    "task_take_pairs": "接收数据文件对 take_{department}_pairs",
    "task_pull_api": "拉取接口数据 pull_{department}_api",
    "task_any_new_records": "是否有新记录 any_new_records",
    "task_announce_deliveries": "通知合并 announce_deliveries",
    "task_wait_for_files": "等待文件 wait_for_files",
    "task_announce_inbox": "通知接收 announce_inbox",
    "task_merge_deliveries": "合并部门数据 merge_deliveries",
    "task_derive_lists_and_profiles": "认定红黑名单与信用档案 derive_lists_and_profiles",
    "task_any_new_versions": "是否有新版本 any_new_versions",
    "task_announce_versions": "通知推送 announce_versions",
    "task_push_county_batches": "推送县平台批次 push_county_batches",
    "task_reconcile_county": "核对县平台记录 reconcile_county",
    "task_push_city_files": "上传市平台文件 push_city_files",
    "task_collect_receipts": "收取回执 collect_receipts",
    "task_withdraw_expired_penalties": "撤下到期处罚公示 withdraw_expired_penalties",
    "task_check_cycle_done": "检查夜间周期 check_cycle_done",
    "task_check_every_connection": "逐一检查连接 check_every_connection",
    "task_clean_hub_store": "清理交换库旧数据 clean_hub_store",
    "task_clean_airflow_db": "清理调度元数据库 clean_airflow_db",
    # --- (end of: Airflow display names of the DAGs and tasks) ---
}

# Chinese words that fill a placeholder inside a Chinese part whose gloss says the same in English
# (the type rule's {expected_zh}, a missing {label}): Chinese only.
WORDS: dict[str, str] = {
    # --- JSON types, the type rule's {expected_zh} (standard/validation.py) ---
    "type_string": "文本",
    "type_number": "数字",
    "type_integer": "整数",
    "type_boolean": "是/否",
    "type_array": "列表",
    "type_object": "对象",
    # --- {label} when a problem has none (standard/messages.py, standard/validation.py) ---
    "label_value": "该值",
    "label_record": "记录",
}

_TABLES = (CATALOGUE, TERMS, LABELS, WORDS)


class _Blank(dict[str, Any]):
    """Format parameters where a missing one renders as empty text."""

    def __missing__(self, key: str) -> str:
        return ""


def _template(code: str) -> str:
    for table in _TABLES:
        template = table.get(code)
        if template is not None:
            return template
    raise KeyError(code)


def text(code: str, **params: Any) -> str:
    """The catalogue's text for ``code`` (CATALOGUE, TERMS, LABELS or WORDS), filled with ``params``.

    Plain ``str.format``: no masking, no escaping (``credit_exchange.standard.messages.message``
    does both). A missing parameter renders as ""; an unknown code raises KeyError.
    """
    return _template(code).format_map(_Blank(params))


def label(code: str, **params: Any) -> tuple[str, str]:
    """A LABELS entry split into its Chinese and its English, each filled with ``params``."""
    chinese, _, english = LABELS[code].partition(" ")
    values = _Blank(params)
    return chinese.format_map(values), english.format_map(values)


__all__ = ["CATALOGUE", "LABELS", "TERMS", "WORDS", "label", "text"]


def width(value: str) -> int:
    """How many terminal columns ``value`` takes: Chinese (wide and full-width) characters take two.

    The admin command's tables (``credit_exchange/admin``, the pre-flight table) align on it.
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value)
