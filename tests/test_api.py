"""The JSON API (/api/v1) through HTTP: authentication, scoping, filters, pagination, bad input, uploads."""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import event

from models import AssignmentStatus, Attachment, Report, Role, User
from tests.conftest import make_user
from tests.factories import PDF, liaison_of, published_fushun, report_for
from workflow.auth.tokens import create_token, revoke_token
from workflow.extensions import db
from workflow.reports.services import attachment_area
from workflow.storage import storage

LATER = datetime(2026, 4, 3, 2, 0, tzinfo=UTC)  # two days after publishing; 2026Q1 due 2026-04-08


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(LATER, tick=False):
        yield


class Api:
    """A test client speaking for one user with a personal token."""

    def __init__(self, client, user: User, token: str | None = None):
        self.client, self.user = client, user
        self.token = token if token is not None else create_token(user, name="test", now=LATER, actor=user)[1]

    def headers(self, extra: dict | None = None) -> dict:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kw):
        return self.client.get(f"/api/v1{path}", headers=self.headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, body=None, **kw):
        if body is not None:
            kw["json"] = body
        return self.client.post(f"/api/v1{path}", headers=self.headers(kw.pop("headers", None)), **kw)

    def patch(self, path: str, body=None, **kw):
        if body is not None:
            kw["json"] = body
        return self.client.patch(f"/api/v1{path}", headers=self.headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def world(app, client):
    """The bundled plan published, and API clients for the people of the 3.4.3 scenario."""
    plan, office = published_fushun()

    class World:
        pass

    w = World()
    w.plan, w.report = plan, report_for(plan, "3.4.3")
    w.target = next(t for t in w.report.task.targets if "清洁取暖率" in t.metric)
    w.office = Api(client, office)
    w.housing = Api(client, liaison_of("市住房城乡建设局"))
    w.ndrc = Api(client, liaison_of("市发展改革委"))
    w.transport = Api(client, liaison_of("市交通运输局"))
    return w


def value_of(report: dict, target_id: int):
    return next(v["value"] for v in report["values"] if v["target_id"] == target_id)


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and isinstance(body["detail"], str)
    return body


# -- authentication --------------------------------------------------------------------------------------

def test_no_bad_or_revoked_token_is_401(app, client):
    user = make_user(Role.OFFICE, username="office1")
    body = problem_of(client.get("/api/v1/me"), 401)
    assert "令牌" in body["detail"]
    assert client.get("/api/v1/me").headers["WWW-Authenticate"].startswith("Bearer")
    problem_of(client.get("/api/v1/me", headers={"Authorization": "Bearer dbt_nonsense"}), 401)
    problem_of(client.get("/api/v1/me", headers={"Authorization": "Basic b2ZmaWNlMTpzM2NyZXQ="}), 401)
    row, token = create_token(user, now=LATER, actor=user)
    api = Api(client, user, token)
    assert api.get("/me").get_json() == {"id": user.id, "username": "office1", "display_name": "office1",
                                         "role": "office", "role_label": "领导小组办公室", "department": None,
                                         "department_id": None,
                                         "email": None}
    revoke_token(row.id, actor=user, now=LATER)
    problem_of(api.get("/me"), 401)


def test_deactivated_user_and_session_cookie_do_not_authenticate(app, client, login_as):
    user = login_as(Role.LIAISON, department="市住房城乡建设局")
    problem_of(client.get("/api/v1/me"), 401)  # a logged-in browser session is not an API credential
    api = Api(client, user)
    assert api.get("/me").get_json()["department"] == "市住房城乡建设局"
    user.active = False
    db.session.commit()
    problem_of(api.get("/me"), 401)


def test_api_is_exempt_from_csrf_but_the_web_is_not(world, app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/logout").status_code == 400  # the web still checks its forms
    r = world.housing.patch(f"/reports/{world.report.id}", {"version": 1, "narrative": "无需 CSRF 令牌"})
    assert r.status_code == 200, r.get_data(as_text=True)


def test_unknown_path_and_method_are_problem_details(world):
    problem_of(world.office.get("/nothing-here"), 404)
    assert world.office.client.delete(f"/api/v1/reports/{world.report.id}",
                                      headers=world.office.headers()).status_code == 405


# -- plans, tasks, departments ---------------------------------------------------------------------------

def test_plans_are_the_office_overview(world):
    listing = world.office.get("/plans").get_json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == world.plan.id
    assert listing["items"][0]["task_count"] == len(world.plan.tasks)
    plan = world.office.get(f"/plans/{world.plan.id}").get_json()
    assert plan["status"] == "published" and plan["cadence"] == "quarterly"
    assert plan["periods"][0] == {**plan["periods"][0], "key": "2026Q1", "deadline": "2026-04-08",
                                  "start": "2026-01-01", "end": "2026-03-31"}
    assert plan["outline"] and all("children" in node for node in plan["outline"])
    assert plan["targets"] and all(isinstance(t["value"], int | float) for t in plan["targets"])
    assert plan["published_at"].endswith("+00:00")
    problem_of(world.housing.get("/plans"), 403)
    problem_of(world.housing.get(f"/plans/{world.plan.id}"), 403)
    problem_of(world.office.get("/plans/9999"), 404)


def test_tasks_filters_and_scoping(world):
    office, housing = world.office, world.housing
    everything = office.get("/tasks?per_page=200").get_json()
    assert everything["total"] == len(world.plan.tasks)
    task = office.get(f"/tasks?q=3.4.3&plan_id={world.plan.id}").get_json()["items"]
    assert [t["code"] for t in task] == ["3.4.3"]
    t = task[0]
    assert t["leads"] == ["市住房城乡建设局"] and "市发展改革委" in t["co"]
    target = next(x for x in t["targets"] if "清洁取暖率" in x["metric"])
    assert target == {**target, "year": 2025, "value": 97, "unit": "%", "comparator": target["comparator"]}
    assert office.get(f"/tasks/{t['id']}").get_json() == t
    words = office.get("/tasks", query_string={"q": "清洁取暖"}).get_json()["items"]
    assert "3.4.3" in [x["code"] for x in words]
    transport = office.get("/tasks", query_string={"department": "市交通运输局"}).get_json()["items"]
    assert transport and all("市交通运输局" in x["leads"] + x["co"] + x["implied"] for x in transport)

    own = housing.get("/tasks?per_page=200").get_json()
    assert 0 < own["total"] < everything["total"]
    assert all("市住房城乡建设局" in x["leads"] + x["co"] + x["implied"] for x in own["items"])
    unrelated = next(x for x in everything["items"] if x["id"] not in {y["id"] for y in own["items"]})
    problem_of(housing.get(f"/tasks/{unrelated['id']}"), 403)
    problem_of(housing.get("/tasks/99999"), 404)
    body = problem_of(office.get("/tasks", query_string={"department": "不存在的局"}), 400)
    assert "department" in body["errors"]


def test_departments_with_aliases_and_kind(world):
    rows = world.housing.get("/departments?per_page=200").get_json()
    business = next(d for d in rows["items"] if d["name"] == "市营商局")
    assert business["aliases"] == ["市大数据管理局"] and business["kind"] == "municipal"
    assert rows["total"] == len(rows["items"])
    # an alias resolves to the canonical department in filters
    by_alias = world.office.get("/tasks", query_string={"department": "市大数据管理局"}).get_json()
    by_name = world.office.get("/tasks", query_string={"department": "市营商局"}).get_json()
    assert by_alias == by_name and by_name["total"] > 0


# -- assignments -----------------------------------------------------------------------------------------

def test_assignments_scoped_filtered_acknowledged_and_adjusted(world):
    housing, transport = world.housing, world.transport
    mine = housing.get("/assignments?per_page=200").get_json()
    assert mine["total"] > 0 and {a["department"] for a in mine["items"]} == {"市住房城乡建设局"}
    assert mine["items"][0]["role"] == "lead"  # lead tasks first
    lead = next(a for a in mine["items"] if a["task_code"] == "3.4.3")
    assert lead == {**lead, "role": "lead", "status": "pending", "task_id": world.report.task_id}
    assert all(a["id"] != lead["id"] for a in transport.get("/assignments?per_page=200").get_json()["items"])
    assert transport.get("/assignments", query_string={"department": "市住房城乡建设局"}).get_json()["total"] == 0
    problem_of(transport.get(f"/assignments/{lead['id']}"), 403)
    problem_of(transport.post(f"/assignments/{lead['id']}/acknowledge"), 403)
    problem_of(world.office.post(f"/assignments/{lead['id']}/acknowledge"), 403)  # not the office's to sign
    problem_of(housing.post("/assignments/99999/acknowledge"), 404)

    body = problem_of(housing.post(f"/assignments/{lead['id']}/acknowledge", {"version": 7}), 409)
    assert body["current_version"] == lead["version"]
    done = housing.post(f"/assignments/{lead['id']}/acknowledge", {"version": lead["version"]}).get_json()
    assert done["status"] == "acknowledged" and done["acknowledged_at"] == "2026-04-03T02:00:00+00:00"
    problem_of(housing.post(f"/assignments/{lead['id']}/acknowledge"), 409)  # already acknowledged
    acknowledged = housing.get("/assignments", query_string={"status": "acknowledged"}).get_json()
    assert [a["id"] for a in acknowledged["items"]] == [lead["id"]]
    assert problem_of(housing.get("/assignments?status=done"), 400)["errors"]["status"]

    other = next(a for a in mine["items"] if a["status"] == "pending" and a["id"] != lead["id"])
    bad = problem_of(housing.post(f"/assignments/{other['id']}/adjustment",
                                  {"reason": " ", "proposed_department": "不存在的局"}), 422)
    assert set(bad["errors"]) == {"reason", "proposed_department"}
    problem_of(housing.post(f"/assignments/{other['id']}/adjustment", {"reason": 5}), 422)
    created = housing.post(f"/assignments/{other['id']}/adjustment",
                           {"reason": "不属于本单位职责", "proposed_department": "市大数据管理局"})
    assert created.status_code == 201
    adjustment = created.get_json()
    assert adjustment["proposed_department"] == "市营商局" and adjustment["status"] == "pending"
    assert adjustment["assignment"]["status"] == AssignmentStatus.ADJUSTMENT
    assert adjustment["assignment"]["pending_adjustment"]["id"] == adjustment["id"]


# -- reports: lists, filters, pagination -----------------------------------------------------------------

def test_report_lists_filter_and_paginate(world):
    office, housing = world.office, world.housing
    q1 = office.get("/reports", query_string={"period": "2026Q1", "per_page": 200}).get_json()
    assert q1["total"] == sum(len(t.leads) for t in world.plan.tasks)
    assert {r["period"] for r in q1["items"]} == {"2026Q1"}
    one = office.get("/reports", query_string={"task_code": "3.4.3", "period": "2026Q1"}).get_json()
    assert one["total"] == 1
    row = one["items"][0]
    assert row == {**row, "id": world.report.id, "task_code": "3.4.3", "department": "市住房城乡建设局",
                   "period": "2026Q1", "deadline": "2026-04-08", "status": "draft", "version": 1,
                   "overdue": False}

    page1 = office.get("/reports?per_page=5").get_json()
    page2 = office.get("/reports?per_page=5&page=2").get_json()
    assert len(page1["items"]) == 5 and page1["total"] == page2["total"] > 10
    assert not {r["id"] for r in page1["items"]} & {r["id"] for r in page2["items"]}
    assert office.get("/reports?page=999").get_json()["items"] == []
    for bad in ("per_page=abc", "per_page=500", "per_page=0", "page=0", "page=-1", "status=lost",
                "overdue=maybe", "plan_id=x", "department=不存在的局"):
        name = bad.split("=")[0]
        assert name in problem_of(office.get(f"/reports?{bad}"), 400)["errors"], bad

    mine = housing.get("/reports?per_page=200").get_json()
    assert mine["total"] > 0 and {r["department"] for r in mine["items"]} == {"市住房城乡建设局"}
    assert housing.get("/reports", query_string={"department": "市交通运输局"}).get_json()["total"] == 0
    by_status = office.get("/reports?status=submitted").get_json()
    assert by_status["total"] == 0


def test_overdue_filter_uses_the_deadline(world):
    with time_machine.travel(datetime(2026, 4, 9, 2, 0, tzinfo=UTC), tick=False):
        overdue = world.office.get("/reports?overdue=true&period=2026Q1&per_page=200").get_json()
    assert overdue["total"] > 0 and all(r["overdue"] and r["days_late"] == 1 for r in overdue["items"])
    assert world.office.get("/reports?overdue=true").get_json()["total"] == 0  # on 3 April nothing is late


def test_report_list_query_count_does_not_grow_with_the_page(world):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    world.office.get("/reports?per_page=1")  # the first use of a token notes the time
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        world.office.get("/reports?per_page=5")
        small = len(statements)
        statements.clear()
        world.office.get("/reports?per_page=200")
        large = len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert large == small <= 10


def test_report_list_totals_are_the_rows_listed_and_count_the_report_table_alone(world):
    """The total is counted without the period and task joins the order needs, unless a filter reads them;
    under every filter it is still the number of rows the pages list."""
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with time_machine.travel(datetime(2026, 4, 9, 2, 0, tzinfo=UTC), tick=False):
            for who, args in ((world.office, ""), (world.office, "period=2026Q1"), (world.office, "status=draft"),
                              (world.office, f"plan_id={world.plan.id}"), (world.office, "task_code=3.4.3"),
                              (world.office, "overdue=true"), (world.office, "department=市住房城乡建设局"),
                              (world.housing, ""), (world.housing, "overdue=true&period=2026Q1")):
                statements.clear()
                body = who.get(f"/reports?per_page=200&{args}").get_json()
                assert body["total"] == len(body["items"]) > 0, args
                if args in ("", "status=draft", "department=市住房城乡建设局"):
                    counts = [s for s in statements if "count(" in s.lower() and "report" in s.lower()]
                    assert counts and not any(" JOIN " in s.upper() for s in counts), (args, counts)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def test_report_list_goes_period_by_period_then_plan_by_plan(world):
    """Two plans' periods of one quarter start on the same day: the list gives one plan's reports in its order,
    then the other's (ix_period_start_plan reads one plan's period at a time)."""
    from tests.conftest import FUSHUN
    from tests.factories import published_plan

    second, _office = published_plan(FUSHUN.read_text("utf-8").replace("碳达峰实施方案", "碳达峰实施方案（第二份）", 1),
                                     "second.txt")
    rows = []
    page = 1
    while True:
        body = world.office.get(f"/reports?period=2026Q1&per_page=200&page={page}").get_json()
        rows += body["items"]
        if len(rows) >= body["total"]:
            break
        page += 1
    plans = [r["plan_id"] for r in rows]
    assert set(plans) == {world.plan.id, second.id}
    assert plans == sorted(plans)   # plan by plan (the first plan's id is the smaller)
    first = [r["task_code"] for r in rows if r["plan_id"] == world.plan.id]
    order = {t.code: t.position for t in world.plan.tasks}
    assert [order[c] for c in first] == sorted(order[c] for c in first)


# -- reports: detail and bad input -----------------------------------------------------------------------

def test_report_detail_has_targets_contributions_and_permissions(world):
    detail = world.housing.get(f"/reports/{world.report.id}").get_json()
    assert detail["narrative"] == "" and detail["values"] == [] and detail["last_return_reason"] is None
    assert {t["id"] for t in detail["targets"]} == {t.id for t in world.report.task.targets}
    assert "市发展改革委" not in {c["department"] for c in detail["contributions"]}  # its draft is its own
    assert "市发展改革委" in detail["missing_contributions"]
    assert detail["permissions"] == {"edit": True, "review": False}
    assert world.office.get(f"/reports/{world.report.id}").get_json()["permissions"] == {"edit": False,
                                                                                         "review": False}
    problem_of(world.transport.get(f"/reports/{world.report.id}"), 403)
    problem_of(world.housing.get("/reports/99999"), 404)


def test_patch_keeps_fields_it_does_not_carry(world):
    housing, rid, tid = world.housing, world.report.id, world.target.id
    first = housing.patch(f"/reports/{rid}", {"version": 1, "narrative": "第一稿", "percent_complete": 30,
                                              "progress": "on_track", "values": [{"target_id": tid, "value": 95.5}]})
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["version"] == 2
    second = housing.patch(f"/reports/{rid}", {"version": 2, "difficulties": "资金不足",
                                               "values": {str(tid): "96"}}).get_json()
    assert second == {**second, "narrative": "第一稿", "percent_complete": 30, "progress": "on_track",
                      "difficulties": "资金不足", "version": 3}
    assert value_of(second, tid) == 96 and {v["target_id"] for v in second["values"]} == {
        t.id for t in world.report.task.targets}
    cleared = housing.patch(f"/reports/{rid}", {"version": 3, "percent_complete": None, "values": {tid: None}})
    assert cleared.get_json()["percent_complete"] is None
    assert value_of(cleared.get_json(), tid) is None


@pytest.mark.parametrize(("raw", "content_type"), [
    (b"", "application/json"),
    (b"{not json", "application/json"),
    (b'["a list"]', "application/json"),
    (b'"text"', "application/json"),
    (b"\xff\xfe", "application/json"),
])
def test_malformed_bodies_are_400(world, raw, content_type):
    r = world.housing.patch(f"/reports/{world.report.id}", data=raw, headers={"Content-Type": content_type})
    problem_of(r, 400)


def test_validation_errors_are_422_and_nothing_is_lost(world):
    housing, rid, tid = world.housing, world.report.id, world.target.id
    housing.patch(f"/reports/{rid}", {"version": 1, "narrative": "已保存的稿", "values": {tid: 90}})
    body = problem_of(housing.patch(f"/reports/{rid}", {"version": 2, "narrative": "新稿", "percent_complete": 130}),
                      422)
    assert "percent_complete" in body["errors"]
    body = problem_of(housing.patch(f"/reports/{rid}", {"version": 2, "values": [{"target_id": tid,
                                                                                  "value": "九十"}]}), 422)
    assert f"value-{tid}" in body["errors"]
    body = problem_of(housing.patch(f"/reports/{rid}", {"version": 2, "values": {"99999": 1}}), 422)
    assert "values" in body["errors"]
    for bad in ({"narrative": "没有版本号"}, {"version": "2"}, {"version": 2, "narrative": 12},
                {"version": 2, "progress": "sideways"}, {"version": 2, "percent_complete": True},
                {"version": 2, "values": "96"}):
        assert problem_of(housing.patch(f"/reports/{rid}", bad), 422)["errors"], bad
    detail = housing.get(f"/reports/{rid}").get_json()
    assert detail["narrative"] == "已保存的稿" and detail["version"] == 2
    assert value_of(detail, tid) == 90


def test_stale_version_is_409_with_the_current_version_and_the_draft_unchanged(world):
    housing, rid = world.housing, world.report.id
    assert housing.patch(f"/reports/{rid}", {"version": 1, "narrative": "A 的稿"}).status_code == 200
    body = problem_of(housing.patch(f"/reports/{rid}", {"version": 1, "narrative": "B 的稿"}), 409)
    assert body["current_version"] == 2
    assert housing.get(f"/reports/{rid}").get_json()["narrative"] == "A 的稿"
    problem_of(housing.post(f"/reports/{rid}/submit", {"version": 1}), 409)


def test_roles_that_may_not_act_get_403(world):
    rid = world.report.id
    head = Api(world.office.client, make_user(Role.DEPT_HEAD, "市住房城乡建设局"))
    leader = Api(world.office.client, make_user(Role.LEADER))
    admin = Api(world.office.client, make_user(Role.ADMIN))
    assert head.get(f"/reports/{rid}").status_code == 200
    assert leader.get(f"/reports/{rid}").status_code == 200
    problem_of(head.patch(f"/reports/{rid}", {"version": 1, "narrative": "部门负责人"}), 403)
    problem_of(world.office.patch(f"/reports/{rid}", {"version": 1, "narrative": "办公室"}), 403)
    problem_of(world.housing.post(f"/reports/{rid}/approve"), 403)
    problem_of(world.housing.post(f"/reports/{rid}/return", {"reason": "自己退回"}), 403)
    problem_of(admin.post(f"/reports/{rid}/approve"), 403)
    problem_of(leader.post(f"/reports/{rid}/approve"), 403)
    problem_of(world.office.post(f"/reports/{rid}/approve"), 409)  # a draft cannot be approved


def test_submit_checks_completeness_and_can_save_in_the_same_step(world):
    housing, rid = world.housing, world.report.id
    body = problem_of(housing.post(f"/reports/{rid}/submit"), 422)
    assert {"narrative", "percent_complete", "progress"} <= set(body["errors"])
    values = [{"target_id": t.id, "value": 1} for t in world.report.task.targets]
    done = housing.post(f"/reports/{rid}/submit", {"version": 1, "narrative": "一步提交", "percent_complete": "50",
                                                   "progress": "at_risk", "values": values})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["status"] == "submitted" and done.get_json()["percent_complete"] == 50
    problem_of(housing.patch(f"/reports/{rid}", {"version": done.get_json()["version"], "narrative": "改"}), 403)
    problem_of(world.office.post(f"/reports/{rid}/return", {}), 422)
    problem_of(world.office.post(f"/reports/{rid}/return", {"reason": ["x"]}), 422)


# -- attachments -----------------------------------------------------------------------------------------

def _upload(api: Api, report_id: int, data: bytes, filename: str):
    return api.client.post(f"/api/v1/reports/{report_id}/attachments", headers=api.headers(),
                           data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def test_attachment_upload_and_download(world):
    rid = world.report.id
    r = _upload(world.housing, rid, PDF, "进展 报告.pdf")
    assert r.status_code == 201, r.get_data(as_text=True)
    att = r.get_json()
    assert att["size"] == len(PDF) and att["url"] == f"/api/v1/attachments/{att['id']}"
    assert r.headers["Location"].endswith(att["url"])
    assert [a["id"] for a in world.housing.get(f"/reports/{rid}").get_json()["attachments"]] == [att["id"]]
    for api in (world.housing, world.office):
        download = api.get(f"/attachments/{att['id']}")
        assert download.status_code == 200 and download.data == PDF
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert att["filename"] == "进展_报告.pdf" and att["content_type"] == "application/pdf"
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    problem_of(world.transport.get(f"/attachments/{att['id']}"), 403)
    problem_of(world.housing.get("/attachments/99999"), 404)
    storage().delete(attachment_area().key(db.session.get(Attachment, att["id"]).sha256))  # lost: a 404, not a 500
    assert "丢失" in problem_of(world.office.get(f"/attachments/{att['id']}"), 404)["detail"]
    assert any(e["action"] == "attachment.add" for e in world.office.get(f"/reports/{rid}/audit").get_json()["items"])


def test_bad_uploads(world, app):
    rid = world.report.id
    exe = b"MZ\x90\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode."
    body = problem_of(_upload(world.housing, rid, exe, "报告.pdf"), 422)
    assert "file" in body["errors"]
    problem_of(_upload(world.transport, rid, PDF, "x.pdf"), 403)
    problem_of(_upload(world.office, rid, PDF, "x.pdf"), 403)
    r = world.housing.client.post(f"/api/v1/reports/{rid}/attachments", headers=world.housing.headers(),
                                  data={"other": "x"}, content_type="multipart/form-data")
    assert "file" in problem_of(r, 422)["errors"]

    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    body = problem_of(_upload(world.housing, rid, PDF + b"0" * 2048, "big.pdf"), 413)
    assert body["max_bytes"] == 1024
    app.config["MAX_CONTENT_LENGTH"] = 4096
    problem_of(_upload(world.housing, rid, PDF + b"0" * 8192, "bigger.pdf"), 413)
    assert world.housing.get(f"/reports/{rid}").get_json()["attachments"] == []


def test_a_50_mb_upload_is_413(world, app):
    app.config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024  # the production default
    problem_of(_upload(world.housing, world.report.id, PDF + b"0" * (50 * 1024 * 1024), "huge.pdf"), 413)


# -- contributions ---------------------------------------------------------------------------------------

def test_contributions_scoped_saved_and_submitted(world):
    ndrc, housing, transport = world.ndrc, world.housing, world.transport
    rid = world.report.id
    assert housing.get(f"/contributions?report_id={rid}&per_page=200").get_json()["total"] == 0  # drafts
    mine = ndrc.get(f"/contributions?report_id={rid}").get_json()["items"]
    assert [c["department"] for c in mine] == ["市发展改革委"]
    own = ndrc.get("/contributions?per_page=200").get_json()
    assert own["total"] > 0
    c = mine[0]
    assert transport.get(f"/contributions?report_id={rid}").get_json()["total"] == 0
    problem_of(transport.get(f"/contributions/{c['id']}"), 403)
    problem_of(transport.patch(f"/contributions/{c['id']}", {"version": 1, "text": "越权"}), 403)
    problem_of(housing.patch(f"/contributions/{c['id']}", {"version": 1, "text": "牵头单位代写"}), 403)
    problem_of(ndrc.get("/contributions/99999"), 404)

    problem_of(ndrc.patch(f"/contributions/{c['id']}", {"text": "无版本"}), 422)
    problem_of(ndrc.post(f"/contributions/{c['id']}/submit"), 422)  # no text yet
    saved = ndrc.patch(f"/contributions/{c['id']}", {"version": 1, "text": "配合推进热源建设"}).get_json()
    assert saved["version"] == 2 and saved["status"] == "draft"
    assert problem_of(ndrc.patch(f"/contributions/{c['id']}", {"version": 1, "text": "旧"}), 409)[
        "current_version"] == 2
    submitted = ndrc.post(f"/contributions/{c['id']}/submit", {"version": 2}).get_json()
    assert submitted["status"] == "submitted" and submitted["text"] == "配合推进热源建设"
    problem_of(ndrc.patch(f"/contributions/{c['id']}", {"version": 3, "text": "再改"}), 403)
    detail = housing.get(f"/reports/{rid}").get_json()
    assert "市发展改革委" not in detail["missing_contributions"]
    assert [x["text"] for x in detail["contributions"] if x["department"] == "市发展改革委"] == ["配合推进热源建设"]
    assert housing.get(f"/contributions/{c['id']}").get_json()["id"] == c["id"]  # the lead reads it now
    for_report = housing.get(f"/contributions?report_id={rid}&per_page=200").get_json()
    assert [x["department"] for x in for_report["items"]] == ["市发展改革委"]
    assert housing.get("/contributions?status=submitted").get_json()["total"] == 1
    assert ndrc.get("/contributions", query_string={"report_id": 99999}).get_json()["total"] == 0


def test_a_co_departments_draft_is_hidden_from_the_lead_as_on_the_web(world, client, login_as):
    """Issue 13: the lead department's liaison sees a co-department's contribution once it is submitted, never
    its draft: not by id, not in any list (?status=draft included), not inside the report; the web agrees."""
    ndrc, housing, rid = world.ndrc, world.housing, world.report.id
    c = ndrc.get(f"/contributions?report_id={rid}").get_json()["items"][0]
    ndrc.patch(f"/contributions/{c['id']}", {"version": 1, "text": "草稿：尚未与本局领导核对"})
    assert ndrc.get(f"/contributions/{c['id']}").get_json()["text"] == "草稿：尚未与本局领导核对"
    assert ndrc.get("/contributions?status=draft&per_page=200").get_json()["total"] > 0

    problem_of(housing.get(f"/contributions/{c['id']}"), 403)
    for query in ("", "status=draft", f"report_id={rid}", "department=市发展改革委"):
        listed = housing.get(f"/contributions?per_page=200&{query}").get_json()
        assert c["id"] not in {x["id"] for x in listed["items"]}, query
        assert all(x["department"] == "市住房城乡建设局" for x in listed["items"]), query
    detail = housing.get(f"/reports/{rid}").get_json()
    assert "尚未与本局领导核对" not in json.dumps(detail, ensure_ascii=False)  # the text; status_label may say 草稿
    assert c["id"] not in {x["id"] for x in detail["contributions"]}
    assert "市发展改革委" in detail["missing_contributions"]

    login_as(Role.LIAISON, department="市住房城乡建设局")  # the web page refuses the same way
    assert client.get(f"/reports/contributions/{c['id']}").status_code == 403
    page = client.get(f"/reports/{rid}").get_data(as_text=True)
    assert "尚未与本局领导核对" not in page and f"/reports/contributions/{c['id']}" not in page
    assert world.office.get(f"/contributions/{c['id']}").get_json()["text"] == "草稿：尚未与本局领导核对"


def test_json_numbers_and_utc_times(world):
    housing, rid = world.housing, world.report.id
    housing.patch(f"/reports/{rid}", {"version": 1, "values": {world.target.id: "95.25"}})
    raw = json.loads(housing.get(f"/reports/{rid}").data)
    assert {"target_id": world.target.id, "value": 95.25} in raw["values"]
    assert next(t for t in raw["targets"] if t["id"] == world.target.id)["reported_value"] == 95.25
    assert raw["updated_at"] == "2026-04-03T02:00:00+00:00"
    assert db.session.get(Report, rid).value_for(world.target.id) == Decimal("95.25")
