"""Lineage search and the page per run through Airflow's own API app (plugin mounted, real auth, real tokens)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest

from hub_messages import text
from tests.integration.ui import lineage_scenario as sc
from tests.integration.ui.conftest import make_token

P = "/qianwei-exchange"
SAME_ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def nights(inbox: Any, store: Any, vault: Any, county_client: Any, pii_key: str,
           monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("AIRFLOW_CONN_PII_KEY", json.dumps({"conn_type": "generic", "password": pii_key}))
    return sc.lineage_nights(inbox, store, vault, county_client)


@pytest.fixture
def admin(client: Any) -> Any:
    client.cookies.set("_token", make_token("admin", "ADMIN"))
    return client


def run_url(dag_id: str, run_id: str, api: bool = False) -> str:
    return f"{P}/{'api/' if api else ''}run?dag_id={quote(dag_id, safe='')}&run_id={quote(run_id, safe='')}"


def field(html: str, row_id: str, name: str) -> str:
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S)
    assert row, row_id
    found = re.search(rf'data-field="{name}"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert found, name
    return found.group(1).strip()


def test_the_plugin_adds_a_tab_to_every_dag_run_page() -> None:
    from airflow import plugins_manager

    views, _ = plugins_manager._get_ui_plugins()
    [view] = [v for v in views if v.get("destination") == "dag_run"]
    assert view["url_route"] == "qianwei-exchange-run"
    # The UI fills {DAG_ID} and {RUN_ID} (URL-encoded) and resolves the href against its <base href>.
    assert view["href"] == "qianwei-exchange/run?dag_id={DAG_ID}&run_id={RUN_ID}"
    assert re.search(r"[\u4e00-\u9fff]", view["name"]) and "Exchange" in view["name"]


def search(c: Any, q: str, api: bool = False) -> Any:
    """A lineage search as the page makes it: a POST from the page itself (form, or JSON for the API)."""
    if api:
        return c.post(P + "/api/lineage", json={"q": q}, headers=SAME_ORIGIN)
    return c.post(P + "/lineage", data={"q": q}, headers=SAME_ORIGIN)


@pytest.mark.parametrize("path", [f"/run?dag_id={sc.INGEST}&run_id=r", f"/api/run?dag_id={sc.INGEST}&run_id=r"])
def test_run_pages_refuse_a_request_without_a_valid_token(client: Any, store: Any, path: str) -> None:
    assert client.get(P + path).status_code == 401
    tampered = make_token("admin", "ADMIN")[:-4] + "AAAA"
    assert client.get(P + path, headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
    client.cookies.set("_token", make_token("viewer", "VIEWER"))
    assert client.get(P + path).status_code == 200  # seeing is all a viewer needs


@pytest.mark.parametrize("api", [False, True])
def test_lineage_search_refuses_a_request_without_a_valid_token(client: Any, store: Any, api: bool) -> None:
    assert search(client, "x", api).status_code == 401
    tampered = make_token("admin", "ADMIN")[:-4] + "AAAA"
    client.cookies.set("_token", tampered)
    assert search(client, "x", api).status_code == 401
    client.cookies.set("_token", make_token("viewer", "VIEWER"))
    assert search(client, "x", api).status_code == 200  # seeing is all a viewer needs


def test_the_overview_has_the_lineage_search_box_and_it_posts(admin: Any, nights: Any) -> None:
    html = admin.get(P + "/").text
    assert '<form method="post" action="lineage" id="lineage-search"' in html and 'name="q"' in html
    assert admin.get(P + "/lineage").status_code == 200  # the empty search box


def test_the_search_never_takes_its_query_from_the_url(admin: Any, nights: Any) -> None:
    """Airflow's API server logs every request's query string (``http.access``): an ID number must not be in one."""
    page = admin.get(P + "/lineage", params={"q": nights["org"]})
    assert page.status_code == 200 and f'data-record="{nights["org"]}"' not in page.text
    assert text("lineage_empty_query") in page.text
    assert admin.get(P + "/api/lineage", params={"q": sc.PERSON_ID}).status_code == 405
    # A search from another site is refused like the page's other POSTs.
    foreign = admin.post(P + "/lineage", data={"q": nights["org"]}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    # No link of an answer carries a query: its records are named by file and ordinal.
    html = search(admin, sc.FILE_1).text
    assert "lineage?" not in html and "api/lineage" not in html
    assert 'class="inline record-link"' in html and 'name="ordinal"' in html


def test_lineage_search_by_record_id_on_the_page_and_as_json(admin: Any, nights: Any) -> None:
    r = search(admin, nights["org"])
    assert r.status_code == 200, r.text
    html = r.text
    assert f'data-record="{nights["org"]}"' in html and sc.FILE_1 in html and sc.FILE_2 in html
    assert ">stale<" in html and "qwhub-county-" in html
    # The run that took the file links to its run view.
    assert f'href="run?dag_id={sc.INGEST}&amp;run_id={quote(sc.RUN_1, safe="")}"' in html
    a = search(admin, nights["org"], api=True).json()
    assert a["matched"] == ["record"] and [d["outcome"] for d in a["records"][0]["deliveries"]] == [
        "accepted", "accepted", "stale"]


def test_a_record_of_a_file_opens_by_file_and_ordinal(admin: Any, nights: Any) -> None:
    a = search(admin, sc.FILE_1, api=True).json()
    [f] = a["files"]
    d = next(d for d in f["records"] if d["record_id"] == nights["org"])
    r = admin.post(P + "/lineage", data={"file_id": str(f["file"]["file_id"]), "ordinal": str(d["ordinal"])},
                   headers=SAME_ORIGIN)
    assert r.status_code == 200 and f'data-record="{nights["org"]}"' in r.text


def test_lineage_search_by_id_number_shows_it_masked(admin: Any, nights: Any) -> None:
    r = search(admin, sc.PERSON_ID)
    assert r.status_code == 200
    assert nights["person"] in r.text and "511123********1230" in r.text
    assert sc.PERSON_ID not in r.text
    j = search(admin, sc.PERSON_ID, api=True)
    assert j.json()["matched"] == ["id_number"] and sc.PERSON_ID not in j.text


def test_a_bearer_token_searches_as_json_without_an_origin(client: Any, nights: Any) -> None:
    r = client.post(P + "/api/lineage", json={"q": nights["org"]},
                    headers={"Authorization": f"Bearer {make_token('ops', 'OP')}"})
    assert r.status_code == 200 and r.json()["matched"] == ["record"]


def test_lineage_search_for_something_unknown_says_so(admin: Any, nights: Any) -> None:
    r = search(admin, "NO_SUCH_FILE.xml")
    assert r.status_code == 200 and 'class="msg err" id="lineage-message"' in r.text and "未找到" in r.text


def test_the_run_view_shows_files_counts_rejects_and_receipts(admin: Any, nights: Any) -> None:
    r = admin.get(run_url(sc.INGEST, sc.RUN_1))
    assert r.status_code == 200, r.text
    html = r.text
    assert f'<tr data-file="{sc.FILE_1}">' in html and sc.FILE_2 not in html
    assert [field(html, "run-totals", k) for k in ("total", "accepted", "rejected", "unchanged", "stale")] == [
        "4", "3", "1", "0", "0"]
    assert 'id="run-rejects"' in html and "uscc_checksum" in html and "partially_accepted" in html
    j = admin.get(run_url(sc.INGEST, sc.RUN_1, api=True)).json()
    assert j["found"] and j["files"][0]["receipt"]["status"] == "partially_accepted"


def test_the_run_view_of_a_push_lists_its_batches(admin: Any, nights: Any) -> None:
    html = admin.get(run_url(sc.PUSH, sc.PUSH_1)).text
    assert 'id="run-batches"' in html and "qwhub-county-" in html and "done 3" in html
    # The outcomes are the records' state now (a later resend moves them): the page says so.
    assert text("run_outcomes_now").split(" (")[0] in html  # the Chinese part (the gloss has an apostrophe)


def test_the_run_view_of_a_run_without_data_says_so(admin: Any, nights: Any) -> None:
    r = admin.get(run_url("derive_lists", "manual__x"))
    assert r.status_code == 200 and 'class="msg err" id="run-message"' in r.text
    assert admin.get(P + "/api/run?dag_id=&run_id=x").status_code == 400
