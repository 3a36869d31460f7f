"""No 500 whatever arrives: the findings of fuzzing the API, each as a request that once failed (a 500, a
schema-valid request refused, a schema-invalid one accepted, a 405 without Allow)."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine

from models import AssignmentStatus, ContributionStatus, Progress, ReportStatus, Role
from tests.factories import liaison_of, published_fushun, report_for
from workflow.api.openapi import build_document
from workflow.auth.tokens import create_token
from workflow.converters import MAX_ID

LATER = datetime(2026, 4, 3, 2, 0, tzinfo=UTC)
HUGE = [2**31, 2**63, 2**64 + 5, 10**30]  # beyond PostgreSQL's INTEGER, beyond SQLite's


@pytest.fixture
def world(app, client):
    with time_machine.travel(LATER, tick=False):
        plan, office = published_fushun()
        report = report_for(plan, "3.4.3")
        housing = liaison_of("市住房城乡建设局")

        class World:
            pass

        w = World()
        w.client, w.report = client, report
        w.target = next(t for t in report.task.targets if "清洁取暖率" in t.metric)
        w.office = {"Authorization": f"Bearer {create_token(office, now=LATER, actor=office)[1]}"}
        w.housing = {"Authorization": f"Bearer {create_token(housing, now=LATER, actor=housing)[1]}"}
        with time_machine.travel(LATER, tick=False):
            yield w


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def raw_patch(w, body: str, headers=None):
    return w.client.patch(f"/api/v1/reports/{w.report.id}", data=body.encode("utf-8", "surrogatepass"),
                          headers={**(headers or w.housing), "Content-Type": "application/json"})


@pytest.mark.parametrize("big", HUGE)
def test_ids_beyond_bigint_are_404_on_every_method(world, big):
    w = world
    for method, path in (("GET", f"/reports/{big}"), ("PATCH", f"/reports/{big}"),
                         ("POST", f"/reports/{big}/submit"), ("GET", f"/plans/{big}"),
                         ("POST", f"/assignments/{big}/acknowledge"), ("PATCH", f"/contributions/{big}"),
                         ("GET", f"/attachments/{big}")):
        problem(w.client.open(f"/api/v1{path}", method=method, headers=w.office, json={"version": 1}), 404)
    assert w.client.get("/api/v1/reports/0", headers=w.office).status_code == 404


def test_page_numbers_and_ids_in_the_query_are_bounded(world):
    w = world
    for query in (f"page={2**63}", f"page={2**70}", f"plan_id={2**31}", f"plan_id={2**63}", f"report_id={2**64}", f"per_page={2**63}"):
        path = "/contributions" if query.startswith("report_id") else "/reports"
        assert query.split("=")[0] in problem(w.client.get(f"/api/v1{path}?{query}", headers=w.office), 400)["errors"]
    far = w.client.get(f"/api/v1/reports?page={2**31 - 1}", headers=w.office)
    assert far.status_code == 200 and far.get_json()["items"] == []


@pytest.mark.parametrize("query", ["page=", "per_page=", "plan_id=", "status=", "overdue=", "page=%20"])
def test_an_empty_typed_query_parameter_is_refused(world, query):
    name = query.split("=")[0]
    assert name in problem(world.client.get(f"/api/v1/reports?{query}", headers=world.office), 400)["errors"]


def test_an_empty_text_query_parameter_is_no_filter(world):
    full = world.client.get("/api/v1/reports?per_page=1", headers=world.office).get_json()["total"]
    blank = world.client.get("/api/v1/reports?per_page=1&department=&period=&task_code=", headers=world.office)
    assert blank.status_code == 200 and blank.get_json()["total"] == full


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e400", "-1e400"])
def test_non_finite_numbers_are_422(world, number):
    w = world
    for body in (f'{{"version": 1, "percent_complete": {number}}}',
                 f'{{"version": 1, "values": [{{"target_id": {w.target.id}, "value": {number}}}]}}',
                 f'{{"version": 1, "values": {{"{w.target.id}": {number}}}}}',
                 f'{{"version": {number}}}'):
        assert problem(raw_patch(w, body), 422)["errors"], body
    for text in ("Infinity", "-Infinity", "NaN", "1e400"):
        body = json.dumps({"version": 1, "percent_complete": text, "values": {str(w.target.id): text}})
        errors = problem(raw_patch(w, body), 422)["errors"]
        assert "percent_complete" in errors and f"value-{w.target.id}" in errors
    assert w.client.get(f"/api/v1/reports/{w.report.id}", headers=w.housing).get_json()["version"] == 1


@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb", "nul\x00byte"])
def test_lone_surrogates_and_nul_in_strings_are_422(world, bad):
    w = world
    escaped = json.dumps(bad)  # "\ud800", "\u0000": valid JSON text, unstorable strings
    for field in ("narrative", "difficulties", "next_steps"):
        assert field in problem(raw_patch(w, f'{{"version": 1, "{field}": {escaped}}}'), 422)["errors"]
    errors = problem(raw_patch(w, f'{{"version": 1, "values": {{{escaped}: 1}}}}'), 422)["errors"]
    assert [name.split(".")[0] for name in errors] == ["values"]
    assert "reason" in problem(w.client.post(f"/api/v1/reports/{w.report.id}/return", headers=w.office,
                                             data=f'{{"reason": {escaped}}}', content_type="application/json"),
                               422)["errors"]
    if "\x00" in bad:  # werkzeug decodes a query string with replacement characters, but NUL gets through
        assert "q" in problem(w.client.get("/api/v1/tasks", query_string={"q": bad}, headers=w.office),
                              400)["errors"]


@pytest.mark.parametrize("depth", [33, 5000, 100_000])
def test_deeply_nested_json_is_400(world, depth):
    body = '{"version": 1, "narrative": "x", "extra": ' + "[" * depth + "]" * depth + "}"
    assert "32" in problem(raw_patch(world, body), 400)["detail"]
    shallow = '{"version": 1, "narrative": "x", "extra": ' + "[" * 20 + "]" * 20 + "}"
    assert raw_patch(world, shallow).status_code == 200


def test_a_version_that_is_an_integral_number_is_accepted(world):
    w = world
    saved = raw_patch(w, '{"version": 1.0, "narrative": "一点零"}')
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["version"] == 2 and saved.get_json()["narrative"] == "一点零"
    for bad in ("2.5", '"2"', "true", "0", "-1"):
        assert "version" in problem(raw_patch(w, f'{{"version": {bad}, "narrative": "x"}}'), 422)["errors"], bad


def test_trace_and_other_methods_are_405_with_allow(world):
    w = world
    for path in (f"/api/v1/reports/{w.report.id}", "/api/v1/me", "/login"):
        response = w.client.open(path, method="TRACE", headers=w.office)
        assert response.status_code == 405 and "GET" in response.headers["Allow"], path
    api = w.client.delete(f"/api/v1/reports/{w.report.id}", headers=w.office)
    problem(api, 405)
    assert set(api.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH"}


def test_the_document_takes_its_enums_from_the_models(app):
    schemas = build_document()["components"]["schemas"]
    for enum in (ReportStatus, ContributionStatus, AssignmentStatus, Progress, Role):
        assert schemas[enum.__name__]["enum"] == [e.value for e in enum]
    assert schemas["ReportSummary"]["properties"]["status"] == {"$ref": "#/components/schemas/ReportStatus"}
    report_params = {p["name"]: p for p in build_document()["paths"]["/reports"]["get"]["parameters"]}
    assert report_params["page"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1, "default": 1}
    assert build_document()["paths"]["/reports/{report_id}"]["get"]["parameters"][0]["schema"]["maximum"] == MAX_ID


def test_an_unknown_or_forbidden_record_is_answered_before_a_bad_body(world):
    w = world
    nobody = liaison_of("市交通运输局")
    other = {"Authorization": f"Bearer {create_token(nobody, now=LATER, actor=nobody)[1]}"}
    for body in ("{}", '{"version": "x", "narrative": 5}', "[1]", "{oops"):
        problem(raw_patch(w, body, headers=other), 403)
        problem(w.client.patch("/api/v1/reports/99999", data=body, headers=w.housing,
                               content_type="application/json"), 404)
        problem(w.client.post(f"/api/v1/reports/{w.report.id}/return", data=body, headers=other,
                              content_type="application/json"), 403)
