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
 button{cursor:pointer}
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

    loader = DictLoader({"base": BASE, "overview": OVERVIEW, "details": DETAILS, "result": RESULT})
    env = Environment(loader=loader, autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals.update(text=hub_messages.text, gloss=gloss)
    return env


def render(name: str, **context: Any) -> str:
    return str(_env().get_template(name).render(**context))
