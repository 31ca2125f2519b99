"""The Exchange page's HTML: small Jinja templates kept as strings (autoescaped), no static files.

Links are relative, so the page works under any ``[api] base_url`` and inside the
Airflow UI's frame. Every text comes from the catalogue (``hub_messages``): ``text(code)`` is a
sentence or a plain label ("信用交换 Exchange"), ``gloss(code)`` a label of ``LABELS`` with its
English in a muted span, as headings, column labels and buttons show it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import hub_messages

BASE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{{ text("ui_exchange") }}{% endblock %}</title>
<style>
 body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1rem 1.5rem;color:#1f2933}
 h1{font-size:1.4rem;margin:.2rem 0} h2{font-size:1.1rem;margin-top:1.6rem} h3{font-size:1rem;margin:1rem 0 .3rem}
 .gloss{color:#616e7c;font-weight:normal;font-size:.85em}
 table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}
 th,td{border:1px solid #cbd2d9;padding:.3rem .55rem;text-align:left;vertical-align:top}
 th{background:#f0f4f8} td.num{text-align:right;font-variant-numeric:tabular-nums}
 td.warn a,td.warn{color:#b91c1c;font-weight:600} .muted{color:#9aa5b1}
 .meta{color:#616e7c;font-size:.85rem} .msg{padding:.6rem .8rem;border-radius:4px;margin:.8rem 0}
 .ok{background:#e3f9e5} .err{background:#ffe3e3} form.inline{display:inline;margin:0}
 button{cursor:pointer} td.path{min-width:14rem;word-break:break-all}
 form.search{margin:.6rem 0} form.search input{margin:0 .4rem}
 button.link{background:none;border:0;padding:0;color:#0b69a3;text-decoration:underline;font:inherit}
</style></head><body>
{% block body %}{% endblock %}
</body></html>
"""

OVERVIEW = """{% extends "base" %}
{% macro n(value, href, warn=True) -%}
{%- if value is none -%}<span class="muted">—</span>
{%- elif value == 0 -%}<a href="{{ href }}">0</a>
{%- else -%}<a href="{{ href }}">{{ value }}</a>{%- endif -%}
{%- endmacro %}
{% macro cls(value) %}{% if value %}num warn{% else %}num{% endif %}{% endmacro %}
{% block body %}
<h1>{{ gloss("ui_exchange") }}</h1>
<p class="meta">{{ text("ui_generated") }} {{ o.generated_at }} · {{ text("ui_user") }} {{ user }} ·
 <a href="api/overview">JSON</a></p>
<form method="post" action="lineage" id="lineage-search" class="search">
 <label for="lineage-q">{{ gloss("ui_lineage_search") }}</label>
 <input id="lineage-q" name="q" size="40" placeholder="{{ text('ui_lineage_hint') }}">
 <button type="submit">{{ gloss("ui_search") }}</button>
</form>

<h2>{{ gloss("ui_departments") }}</h2>
<table id="departments">
<tr><th>{{ gloss("ui_department") }}</th>
 <th>{{ gloss("ui_last_received") }}</th>
 <th>{{ gloss("ui_files_waiting") }}</th>
 <th>{{ gloss("ui_live") }}</th>
 <th>{{ gloss("ui_files_quarantined") }}</th>
 <th>{{ gloss("ui_rejected_recent", days=o.reject_window_days) }}</th>
 <th>{{ gloss("ui_open_alerts") }}</th></tr>
{% for d in o.departments %}
<tr data-department="{{ d.department }}">
 <td><b>{{ d.department }}</b><br><span class="gloss">{{ d.label }}</span></td>
 <td data-field="last_success">{{ d.last_success or text("ui_never") }}</td>
 <td data-field="waiting" class="num">{{ n(d.waiting, "details/waiting?department=" ~ d.department) }}</td>
 <td data-field="live" class="num">{% if d.live_possible %}<span class="live" data-live="{{ d.department }}">…</span>{% else %}<span class="muted">—</span>{% endif %}</td>
 <td data-field="quarantined" class="{{ cls(d.quarantined) }}">{{ n(d.quarantined, "details/quarantined?department=" ~ d.department) }}</td>
 <td data-field="rejected_records" class="{{ cls(d.rejected_records) }}">{{ n(d.rejected_records, "details/rejects?department=" ~ d.department) }}</td>
 <td data-field="alerts_open" class="{{ cls(d.alerts_open) }}">{{ n(d.alerts_open, "details/alerts?department=" ~ d.department) }}</td>
</tr>
{% endfor %}
</table>

{% for d in o.departments if d.rejects_by_code %}
<h3>{{ d.department }}：{{ gloss("ui_rejects_by_rule") }}</h3>
<table class="reject-codes" data-department="{{ d.department }}">
<tr><th>{{ gloss("ui_rule_code") }}</th><th>{{ gloss("ui_count") }}</th>
 <th>{{ gloss("ui_message_latest") }}</th></tr>
{% for r in d.rejects_by_code %}
<tr data-code="{{ r.code }}"><td>{{ r.code }}</td><td class="num"><a href="details/rejects?department={{ d.department }}">{{ r.count }}</a></td><td>{{ r.message }}</td></tr>
{% endfor %}
</table>
{% if latest.get(d.department) %}
<table class="latest-rejects" data-department="{{ d.department }}">
<tr><th>{{ gloss("ui_file") }}</th><th>{{ gloss("ui_position") }}</th>
 <th>{{ gloss("ui_field") }}</th><th>{{ gloss("ui_code") }}</th>
 <th>{{ gloss("ui_message") }}</th></tr>
{% for r in latest[d.department] %}
<tr><td>{{ r.file }}</td><td>{{ r.position }}</td><td>{{ r.field or "" }}</td><td>{{ r.code }}</td><td>{{ r.message }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% endfor %}

<h2>{{ gloss("ui_platforms") }}</h2>
<table id="platforms">
<tr><th>{{ gloss("ui_platform") }}</th>
 <th>{{ gloss("ui_last_pushed") }}</th>
 <th>{{ gloss("ui_records_pending") }}</th>
 <th>{{ gloss("ui_records_failed") }}</th>
 <th>{{ gloss("ui_batches_prepared") }}</th>
 <th>{{ gloss("ui_batches_failed") }}</th>
 <th>{{ gloss("ui_files_unreceipted") }}</th>
 <th>{{ gloss("ui_receipts_overdue") }}</th>
 <th>{{ gloss("ui_open_alerts") }}</th></tr>
{% for p in o.platforms %}
<tr data-platform="{{ p.platform }}">
 <td><b>{{ p.platform }}</b><br><span class="gloss">{{ p.label }}</span></td>
 <td data-field="last_success">{{ p.last_success or text("ui_never") }}</td>
 <td data-field="pending_records" class="num">{{ n(p.pending_records, "details/pending?platform=" ~ p.platform) }}</td>
 <td data-field="failed_records" class="{{ cls(p.failed_records) }}">{{ n(p.failed_records, "details/failed-records?platform=" ~ p.platform) }}</td>
 <td data-field="batches_prepared" class="num">{{ n(p.batches_prepared, "details/batches?platform=" ~ p.platform) }}</td>
 <td data-field="batches_failed" class="{{ cls(p.batches_failed) }}">{{ n(p.batches_failed, "details/batches?platform=" ~ p.platform) }}</td>
 <td data-field="files_unreceipted" class="num">{{ n(p.files_unreceipted, "details/unreceipted?platform=" ~ p.platform) }}</td>
 <td data-field="receipts_overdue" class="{{ cls(p.receipts_overdue) }}">{{ n(p.receipts_overdue, "details/unreceipted?platform=" ~ p.platform) }}</td>
 <td data-field="alerts_open" class="{{ cls(p.alerts_open) }}">{{ n(p.alerts_open, "details/alerts?platform=" ~ p.platform) }}</td>
</tr>
{% endfor %}
</table>

<h2>{{ gloss("ui_other") }}</h2>
<table id="totals">
<tr><th>{{ gloss("ui_alerts_all") }}</th>
 <td data-field="alerts_open" class="{{ cls(o.alerts_open) }}">{{ n(o.alerts_open, "details/alerts") }}</td></tr>
<tr><th>{{ gloss("ui_data_quality") }}</th>
 <td data-field="data_quality" class="num">{{ n(o.data_quality, "details/data-quality") }}</td></tr>
</table>
<script>
// Live inbox counts come after the page: a slow SFTP server never holds the page up.
document.querySelectorAll("[data-live]").forEach(function (el) {
  fetch("api/live/" + encodeURIComponent(el.dataset.live), {credentials: "same-origin"})
    .then(function (r) { return r.json(); })
    .then(function (j) {
      if (j.error) { el.textContent = "?"; el.title = j.error; }
      else { el.textContent = String(j.waiting); el.title = j.note || ""; }
    })
    .catch(function () { el.textContent = "?"; });
});
</script>
{% endblock %}
"""

DETAILS = """{% extends "base" %}
{% block title %}{{ title }} · {{ text("ui_exchange") }}{% endblock %}
{% block body %}
<p><a href="../">← {{ text("ui_back_to_overview") }}</a></p>
<h1>{{ title }}{% if whose %} · {{ whose }}{% endif %}</h1>
<p class="meta">{{ text("page_rows", count=rows|length) }} ·
{#- one line #} <a href="../api/details/{{ kind }}{{ query }}">JSON</a></p>
{% if action == "resend" and rows %}
<form method="post" action="../actions/resend" class="inline" id="resend-all">
 <input type="hidden" name="platform" value="{{ platform }}">
 <button type="submit">{{ gloss("ui_resend_all") }}</button>
</form>
{% endif %}
{% if rows %}
<table id="details" data-kind="{{ kind }}">
<tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}
{%- if action %}<th>{{ gloss("ui_action") }}</th>{% endif %}</tr>
{% for r in rows %}
<tr>{% for c in columns %}<td>{{ "" if r[c] is none else r[c] }}</td>{% endfor %}
{% if action == "requeue" %}<td>{% if r.requeue_possible %}
 <form method="post" action="../actions/requeue" class="inline">
  <input type="hidden" name="department" value="{{ department }}">
  <input type="hidden" name="file_id" value="{{ r.file_id }}">
  <button type="submit">{{ gloss("ui_requeue") }}</button></form>
 {% else %}<span class="muted">—</span>{% endif %}</td>
{% elif action == "resend" %}<td>
 <form method="post" action="../actions/resend" class="inline">
  <input type="hidden" name="platform" value="{{ platform }}">
  <input type="hidden" name="id" value="{{ r.item_id if platform == 'county' else r.record_id }}">
  <button type="submit">{{ gloss("ui_resend") }}</button></form></td>
{% elif action == "resolve" %}<td>
 <form method="post" action="../actions/resolve-alerts" class="inline">
  <input type="hidden" name="id" value="{{ r.alert_id }}">
  <input type="text" name="note" required placeholder="{{ text('alerts_note_placeholder') }}">
  <button type="submit">{{ text("alerts_resolve_button") }}</button></form></td>
{% endif %}
</tr>
{% endfor %}
</table>
{% else %}
<p class="muted">{{ text("page_nothing_here") }}</p>
{% endif %}
{% endblock %}
"""

# Shared by the lineage answer and the run view: one received file's row.
FILE_MACROS = """
{% macro run_link(dag_id, run_id) -%}
{%- if dag_id and run_id -%}<a href="run?dag_id={{ dag_id|urlencode }}&amp;run_id={{ run_id|urlencode }}">{{ dag_id }} / {{ run_id }}</a>
{%- elif run_id -%}{{ run_id }}{%- else -%}<span class="muted">—</span>{%- endif -%}
{%- endmacro %}
{% macro file_head(with_run=True) -%}
<tr><th>{{ gloss("ui_department") }}</th><th>{{ gloss("ui_file") }}</th><th>{{ gloss("ui_status") }}</th>
 <th>{{ gloss("ui_total") }}</th><th>{{ gloss("ui_accepted") }}</th><th>{{ gloss("ui_rejected") }}</th>
 <th>{{ gloss("ui_unchanged") }}</th><th>{{ gloss("ui_stale") }}</th><th>{{ gloss("ui_receipt") }}</th>
 <th>{{ gloss("ui_received_at") }}</th><th>{{ gloss("ui_stored_path") }}</th>
 {%- if with_run %}<th>{{ gloss("ui_run") }}</th>{% endif %}</tr>
{%- endmacro %}
{% macro file_row(f, receipt, with_run=True) -%}
<tr data-file="{{ f.name }}"><td>{{ f.department }}</td><td>{{ f.name }}</td>
 <td data-field="status">{{ f.status }}{% if f.error_code %}<br><span class="gloss">{{ f.error_code }}: {{ f.reason or "" }}</span>{% endif %}</td>
 <td class="num" data-field="total">{{ f.total }}</td><td class="num" data-field="accepted">{{ f.accepted }}</td>
 <td class="num" data-field="rejected">{{ f.rejected }}</td><td class="num" data-field="unchanged">{{ f.unchanged }}</td>
 <td class="num" data-field="stale">{{ f.stale }}</td>
 <td data-field="receipt">{% if receipt %}{{ receipt.status }}{% else %}<span class="muted">—</span>{% endif %}</td>
 <td>{{ f.received_at }}</td><td class="path">{{ f.stored_path or "" }}</td>
 {%- if with_run %}<td>{{ run_link(f.dag_id, f.run_id) }}</td>{% endif %}</tr>
{%- endmacro %}
{% macro rejects_table(rows, id) -%}
<table id="{{ id }}">
<tr><th>{{ gloss("ui_file") }}</th><th>{{ gloss("ui_position") }}</th><th>{{ gloss("ui_dept_record_id") }}</th>
 <th>{{ gloss("ui_field") }}</th><th>{{ gloss("ui_code") }}</th><th>{{ gloss("ui_message") }}</th></tr>
{% for r in rows %}
<tr data-code="{{ r.code }}"><td>{{ r.file or "" }}</td><td>{{ r.position }}</td><td>{{ r.dept_record_id or "" }}</td>
 <td>{{ r.field or "" }}</td><td>{{ r.code }}</td><td>{{ r.message }}</td></tr>
{% endfor %}
</table>
{%- endmacro %}
"""

LINEAGE = """{% extends "base" %}
{% import "file_macros" as m %}
{% block title %}{{ text("ui_lineage") }} · {{ text("ui_exchange") }}{% endblock %}
{% block body %}
<p><a href="./">← {{ text("ui_back_to_overview") }}</a></p>
<h1>{{ gloss("ui_lineage") }}</h1>
{#- A POST, not a GET: a query in the URL (an ID number) would be in the API server's access log. #}
<form method="post" action="lineage" id="lineage-search">
 <input name="q" size="40" value="{{ a.query }}" placeholder="{{ text('ui_lineage_hint') }}">
 <button type="submit">{{ gloss("ui_search") }}</button>
</form>
<div class="msg {{ 'ok' if a.matched else 'err' }}" id="lineage-message">{{ a.message }}</div>
{% for n in a.notes %}<div class="msg err">{{ n }}</div>{% endfor %}

{% for r in a.records %}
<section class="record" data-record="{{ r.record_id }}">
<h2>{{ gloss("ui_record") }} {{ r.record_id }}</h2>
<p class="meta">{{ r.department or "" }} · {{ r.record_type or "" }}{% if r.current %} · {{ text("ui_current") }}
 v{{ r.current.hub_version }} ({{ r.current.op }}, {{ r.current.updated_at }}){% endif %}</p>
<h3>{{ gloss("ui_deliveries") }}</h3>
<table class="deliveries">
<tr><th>{{ gloss("ui_file") }}</th><th>{{ gloss("ui_department") }}</th><th>{{ gloss("ui_received_at") }}</th>
 <th>{{ gloss("ui_status") }}</th><th>{{ gloss("ui_stored_path") }}</th><th>{{ gloss("ui_run") }}</th>
 <th>{{ gloss("ui_ordinal") }}</th><th>{{ gloss("ui_position") }}</th><th>{{ gloss("ui_dept_version") }}</th>
 <th>{{ gloss("ui_op") }}</th><th>{{ gloss("ui_outcome") }}</th><th>{{ gloss("ui_hub_version") }}</th>
 <th>{{ gloss("ui_receipt") }}</th></tr>
{% for d in r.deliveries %}
<tr><td>{{ d.file.name }}</td><td>{{ d.file.department }}</td><td>{{ d.file.received_at }}</td>
 <td>{{ d.file.status }}</td><td>{{ d.file.stored_path or "" }}</td><td>{{ m.run_link(d.file.dag_id, d.file.run_id) }}</td>
 <td class="num">{{ d.ordinal }}</td><td>{{ d.position }}</td><td class="num">{{ d.dept_version if d.dept_version is not none else "" }}</td>
 <td>{{ d.op or "" }}</td><td data-field="outcome">{{ d.outcome }}</td>
 <td class="num">{{ d.hub_version if d.hub_version is not none else "" }}</td>
 <td>{{ d.receipt.status if d.receipt else "" }}</td></tr>
{% endfor %}
</table>
{% if r.versions %}
<h3>{{ gloss("ui_versions") }}</h3>
<table class="versions"><tr><th>{{ gloss("ui_hub_version") }}</th><th>{{ gloss("ui_op") }}</th>
 <th>{{ gloss("ui_time") }}</th><th>{{ gloss("ui_file") }}</th></tr>
{% for v in r.versions %}<tr><td class="num">{{ v.hub_version }}</td><td>{{ v.op }}</td><td>{{ v.created_at }}</td>
 <td>{{ v.file or "" }}</td></tr>{% endfor %}
</table>
{% endif %}
{% if r.rejects %}<h3>{{ gloss("ui_run_rejects") }}</h3>{{ m.rejects_table(r.rejects, "record-rejects") }}{% endif %}
{% if r.county %}
<h3>{{ gloss("ui_county_pushes") }}</h3>
<table class="county"><tr><th>{{ gloss("ui_hub_version") }}</th><th>{{ gloss("ui_op") }}</th>
 <th>{{ gloss("ui_status") }}</th><th>{{ gloss("ui_batch") }}</th><th>{{ gloss("ui_batch_status") }}</th>
 <th>{{ gloss("ui_answer") }}</th><th>{{ gloss("ui_time") }}</th></tr>
{% for c in r.county %}<tr><td class="num">{{ c.hub_version }}</td><td>{{ c.op }}</td><td data-field="county-status">{{ c.status }}</td>
 <td>{{ c.batch_id or "" }}</td><td>{{ c.batch_status or "" }}</td>
 <td>{{ c.result or "" }} {{ c.code or "" }} {{ c.message or "" }}</td><td>{{ c.updated_at }}</td></tr>{% endfor %}
</table>
{% endif %}
{% if r.city %}
<h3>{{ gloss("ui_city_state") }}</h3>
<table class="city"><tr><th>{{ gloss("ui_hub_version") }}</th><th>{{ gloss("ui_op") }}</th>
 <th>{{ gloss("ui_status") }}</th><th>{{ gloss("ui_file") }}</th><th>{{ gloss("ui_receipt") }}</th>
 <th>{{ gloss("ui_answer") }}</th></tr>
<tr><td class="num">{{ r.city.hub_version }}</td><td>{{ r.city.op }}</td><td data-field="city-state">{{ r.city.state }}</td>
 <td>{{ r.city.file }}</td><td>{{ r.city.receipt_status or "" }} {{ r.city.receipt_at or "" }}</td>
 <td>{{ r.city.code or "" }} {{ r.city.message or "" }}</td></tr>
</table>
{% endif %}
</section>
{% endfor %}

{% for f in a.files %}
<section class="file" data-file="{{ f.file.name }}">
<h2>{{ gloss("ui_file") }} {{ f.file.name }}</h2>
<table class="file-facts">{{ m.file_head() }}{{ m.file_row(f.file, f.receipt) }}</table>
{% if f.rejects %}<h3>{{ gloss("ui_run_rejects") }}</h3>{{ m.rejects_table(f.rejects, "file-rejects") }}{% endif %}
{% if f.records %}
<h3>{{ gloss("ui_records_in_file") }}</h3>
<table class="file-records"><tr><th>{{ gloss("ui_ordinal") }}</th><th>{{ gloss("ui_position") }}</th>
 <th>{{ gloss("ui_record") }}</th><th>{{ gloss("ui_dept_version") }}</th><th>{{ gloss("ui_op") }}</th>
 <th>{{ gloss("ui_outcome") }}</th><th>{{ gloss("ui_hub_version") }}</th></tr>
{% for d in f.records %}<tr><td class="num">{{ d.ordinal }}</td><td>{{ d.position }}</td>
 <td>{% if d.record_id %}<form method="post" action="lineage" class="inline record-link">
  {#- named by file and ordinal: a record id may hold an ID number, and is masked here #}
  <input type="hidden" name="file_id" value="{{ f.file.file_id }}"><input type="hidden" name="ordinal" value="{{ d.ordinal }}">
  <button type="submit" class="link">{{ d.record_id }}</button></form>{% else %}{{ d.dept_record_id or "" }}{% endif %}</td>
 <td class="num">{{ d.dept_version if d.dept_version is not none else "" }}</td><td>{{ d.op or "" }}</td>
 <td>{{ d.outcome }}</td><td class="num">{{ d.hub_version if d.hub_version is not none else "" }}</td></tr>{% endfor %}
</table>
{% endif %}
</section>
{% endfor %}
{% endblock %}
"""

RUN = """{% extends "base" %}
{% import "file_macros" as m %}
{% block title %}{{ text("ui_run_view") }} · {{ text("ui_exchange") }}{% endblock %}
{% block body %}
<h1>{{ gloss("ui_run_view") }}: {{ r.dag_id }} / {{ r.run_id }}</h1>
<p class="meta"><a href="{{ overview }}" target="_top">{{ text("ui_exchange") }}</a> ·
 <a href="api/run?dag_id={{ r.dag_id|urlencode }}&amp;run_id={{ r.run_id|urlencode }}">JSON</a></p>
<div class="msg {{ 'ok' if r.found else 'err' }}" id="run-message">{{ r.message }}</div>
{% for n in r.notes %}<div class="msg">{{ n }}</div>{% endfor %}
{% if r.files %}
<h2>{{ gloss("ui_run_files") }}</h2>
<table id="run-files">{{ m.file_head(with_run=False) }}
{% for f in r.files %}{{ m.file_row(f, f.receipt, with_run=False) }}{% endfor %}
<tr id="run-totals"><th colspan="3">{{ gloss("ui_total") }}</th>
 <td class="num" data-field="total">{{ r.totals.total }}</td><td class="num" data-field="accepted">{{ r.totals.accepted }}</td>
 <td class="num" data-field="rejected">{{ r.totals.rejected }}</td><td class="num" data-field="unchanged">{{ r.totals.unchanged }}</td>
 <td class="num" data-field="stale">{{ r.totals.stale }}</td><td colspan="3"></td></tr>
</table>
{% endif %}
{% if r.rejects %}
<h2>{{ gloss("ui_run_rejects") }}</h2>
{% if r.rejects_shown < r.totals.rejected %}<p class="meta">{{ gloss("ui_shown_first", count=r.rejects_shown) }}</p>{% endif %}
{{ m.rejects_table(r.rejects, "run-rejects") }}
{% endif %}
{% if r.batches %}
<h2>{{ gloss("ui_run_batches") }}</h2>
<table id="run-batches"><tr><th>{{ gloss("ui_batch") }}</th><th>{{ gloss("ui_status") }}</th>
 <th>{{ gloss("ui_records_count") }}</th><th>{{ gloss("ui_attempts") }}</th><th>{{ gloss("ui_record_outcomes") }}</th>
 <th>{{ gloss("ui_time") }}</th><th>{{ gloss("ui_message") }}</th></tr>
{% for b in r.batches %}<tr data-batch="{{ b.batch_id }}"><td>{{ b.batch_id }}</td><td data-field="status">{{ b.status }}</td>
 <td class="num">{{ b.records }}</td><td class="num">{{ b.attempts }}</td>
 <td>{% for k, v in b.outcomes.items() %}{{ k }} {{ v }}{% if not loop.last %} · {% endif %}{% endfor %}</td>
 <td>{{ b.created_at }}{% if b.completed_at %} → {{ b.completed_at }}{% endif %}</td><td>{{ b.last_error or "" }}</td></tr>{% endfor %}
</table>
{% endif %}
{% if r.city_files %}
<h2>{{ gloss("ui_run_city_files") }}</h2>
<table id="run-city-files"><tr><th>{{ gloss("ui_file") }}</th><th>{{ gloss("ui_status") }}</th>
 <th>{{ gloss("ui_records_count") }}</th><th>{{ gloss("ui_receipt") }}</th><th>{{ gloss("ui_record_outcomes") }}</th>
 <th>{{ gloss("ui_time") }}</th></tr>
{% for c in r.city_files %}<tr data-city-file="{{ c.name }}"><td>{{ c.name }}</td><td data-field="status">{{ c.status }}</td>
 <td class="num">{{ c.records }}</td><td data-field="receipt">{{ c.receipt_status or "" }} {{ c.receipt_at or "" }}</td>
 <td>{% for k, v in c.record_states.items() %}{{ k }} {{ v }}{% if not loop.last %} · {% endif %}{% endfor %}</td>
 <td>{{ c.uploaded_at or c.created_at }}</td></tr>{% endfor %}
</table>
{% endif %}
{% endblock %}
"""

RESULT = """{% extends "base" %}
{% block body %}
<p><a href="../">← {{ text("ui_back_to_overview") }}</a>
{%- if back %} · <a href="{{ back }}">{{ text("ui_back_to_list") }}</a>{% endif %}</p>
<div class="msg {{ 'ok' if ok else 'err' }}" id="result">{{ message }}</div>
{% endblock %}
"""


def gloss(code: str, **params: Any) -> Any:
    """A label of ``hub_messages.LABELS`` as HTML: its Chinese, then its English in a muted span."""
    from markupsafe import Markup

    chinese, english = hub_messages.label(code, **params)
    return Markup('{} <span class="gloss">{}</span>').format(chinese, english)


@cache
def _env() -> Any:
    from jinja2 import DictLoader, Environment, select_autoescape

    loader = DictLoader({"base": BASE, "overview": OVERVIEW, "details": DETAILS, "result": RESULT,
                         "file_macros": FILE_MACROS, "lineage": LINEAGE, "run": RUN})
    env = Environment(loader=loader, autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals.update(text=hub_messages.text, gloss=gloss)
    return env


def render(name: str, **context: Any) -> str:
    return str(_env().get_template(name).render(**context))
