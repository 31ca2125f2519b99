"""What the hub's asset events say: the extras that show in the UI why a DAG ran.

Each announcement task (``announce_inbox``, ``announce_deliveries``, ``announce_versions``) sets
its event's extra through the Task SDK (``context["outlet_events"][asset].extra``) from the
counts and names its upstream task returned. Extras are stored in Airflow's metadata database
and shown in the UI: only names of the department's contract pattern are listed (ID numbers
masked, ``masked_names``), others are withheld, and nothing else a department sent is in them.
"""

from __future__ import annotations

from typing import Any

# Names in one event: a night of a busy department lists its first files and counts the rest.
MAX_NAMES = 20
RECORD_COUNTS = ("total", "accepted", "rejected", "unchanged", "stale")


def masked_names(names: list[str], department: str | None = None, *, inbox: str | None = None) -> list[str]:
    """The first ``MAX_NAMES`` names as Airflow may keep them (XComs, trigger events, asset extras).

    A name that is the department's contract pattern (``file_pattern``: kind, date, sequence) is
    kept, ID and phone numbers masked all the same; any other name may hold anything (a person's
    name, an ID number in another form), so it is withheld: the Exchange page and the receipts,
    in the county channel, show it. ``department`` names the feed, or ``inbox`` its inbox folder.
    """
    from credit_exchange.standard.pii import safe_text
    from hub_messages import text

    feed = _feed(department, inbox)
    return [safe_text(n) if feed is None or feed.match_name(n) else text("asset_name_withheld")
            for n in names[:MAX_NAMES]]


def _feed(department: str | None, inbox: str | None) -> Any:
    from credit_exchange import config

    try:
        if department:
            return config.feed(department)
        if inbox:
            return next((f for f in config.feeds() if f.root and f.folder("inbox") == inbox), None)
    except (KeyError, config.ConfigError):
        return None
    return None


def _set(context: dict[str, Any], asset: Any, extra: dict[str, Any]) -> dict[str, Any]:
    context["outlet_events"][asset].extra = extra
    return extra


def announce_inbox(context: dict[str, Any], asset: Any, department: str, waiting: Any) -> dict[str, Any]:
    """The inbox event: which department, how many files wait and their (masked) names."""
    names = context["ti"].xcom_pull(task_ids="wait_for_files", key="file_names") or []
    return _set(context, asset, {"department": department, "files_waiting": int(waiting or 0),
                                 "files": masked_names(list(names), department)})


def announce_deliveries(context: dict[str, Any], asset: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """The deliveries event: the department, the files taken (masked) and the record counts."""
    extra: dict[str, Any] = {"department": summary.get("department"), "files": masked_names(summary.get("file_names", []), summary.get("department"))}
    extra.update({k: int(summary.get(k, 0) or 0) for k in RECORD_COUNTS})
    if summary.get("accepted_in_run"):
        extra["accepted_in_run"] = int(summary["accepted_in_run"])
    return _set(context, asset, extra)


def _triggering_departments(context: dict[str, Any], deliveries: Any) -> list[str]:
    """The departments whose delivery events started this run (none for a run started by time)."""
    try:
        events = context["triggering_asset_events"][deliveries]
    except (KeyError, TypeError):
        return []
    return sorted({str(e.extra["department"]) for e in events if (e.extra or {}).get("department")})


def announce_versions(context: dict[str, Any], asset: Any, deliveries: Any, merged: dict[str, Any],
                      derived: dict[str, Any]) -> dict[str, Any]:
    """The record-versions event: what merge and derive wrote, and the deliveries that started the run."""
    extra = {
        "departments": _triggering_departments(context, deliveries),
        "merged": {k: int(merged.get(k, 0)) for k in ("deliveries", "new_versions", "unchanged", "deletes")},
        "derived": {k: int(derived.get(k, 0)) for k in ("subjects", "new_versions", "listed", "moved_out")},
        "new_versions": int(merged.get("new_versions", 0)) + int(derived.get("new_versions", 0)),
    }
    return _set(context, asset, extra)
