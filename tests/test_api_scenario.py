"""The issue's acceptance scenario, played entirely through /api/v1 by the people it names.

The office publishes the bundled plan; the 市住房城乡建设局 liaison acknowledges 3.4.3 and files the
first-quarter report with a value for 清洁取暖率; the 市发展改革委 liaison files its contribution; the lead
submits; the office returns it with a reason; the liaison revises and resubmits; the office sees what changed
and approves; the audit trail shows each step; a 市交通运输局 liaison gets 403 on all of it and never sees it.
"""
from __future__ import annotations

import io
from datetime import UTC, datetime

import time_machine

from tests.factories import PDF, liaison_of, published_fushun
from workflow.auth.tokens import create_token

REASON = "请补充清洁取暖率的统计口径"


def at(day: int, hour: int = 2) -> time_machine.travel:
    """A moment in April 2026 (UTC); 2026Q1 reports are due on 8 April."""
    return time_machine.travel(datetime(2026, 4, day, hour, 0, tzinfo=UTC), tick=False)


class Caller:
    def __init__(self, client, user):
        self.client, self.user = client, user
        self.auth = {"Authorization": "Bearer " + create_token(user, name="oa", now=datetime.now(UTC),
                                                               actor=user)[1]}

    def __call__(self, method: str, path: str, body=None, expect: int = 200, **kw):
        if body is not None:
            kw["json"] = body
        response = self.client.open(f"/api/v1{path}", method=method, headers=self.auth, **kw)
        assert response.status_code == expect, (method, path, response.get_data(as_text=True))
        return response.get_json()

    def all(self, path: str) -> list[dict]:
        """Every item of a paginated list."""
        items, page = [], 1
        while True:
            sep = "&" if "?" in path else "?"
            body = self("GET", f"{path}{sep}page={page}&per_page=200")
            items += body["items"]
            if len(items) >= body["total"] or not body["items"]:
                return items
            page += 1


def test_reporting_cycle_through_the_api(app, client):
    with at(1, 1):
        plan, office_user = published_fushun()
        office = Caller(client, office_user)
        housing = Caller(client, liaison_of("市住房城乡建设局"))
        ndrc = Caller(client, liaison_of("市发展改革委"))
        transport = Caller(client, liaison_of("市交通运输局"))

    with at(2):
        assert housing("GET", "/me")["department"] == "市住房城乡建设局"
        assignment = next(a for a in housing.all("/assignments") if a["task_code"] == "3.4.3")
        assert assignment["role"] == "lead" and assignment["status"] == "pending"
        acknowledged = housing("POST", f"/assignments/{assignment['id']}/acknowledge")
        assert acknowledged["status"] == "acknowledged"

        [row] = housing("GET", "/reports?task_code=3.4.3&period=2026Q1")["items"]
        assert row["status"] == "draft" and row["deadline"] == "2026-04-08"
        report_id = row["id"]
        report = housing("GET", f"/reports/{report_id}")
        heating = next(t for t in report["targets"] if "清洁取暖率" in t["metric"])
        assert heating["unit"] == "%" and heating["value"] == 97
        draft = housing("PATCH", f"/reports/{report_id}", {
            "version": report["version"], "narrative": "推进城市建成区清洁取暖改造", "percent_complete": 40,
            "progress": "on_track", "values": [{"target_id": heating["id"], "value": 95.5}]})
        assert {"target_id": heating["id"], "value": 95.5} in draft["values"]
        attachment = housing("POST", f"/reports/{report_id}/attachments", expect=201,
                             data={"file": (io.BytesIO(PDF), "清洁取暖台账.pdf")},
                             content_type="multipart/form-data")

    with at(3):
        [contribution] = ndrc("GET", f"/contributions?report_id={report_id}")["items"]
        assert contribution["department"] == "市发展改革委" and contribution["status"] == "draft"
        saved = ndrc("PATCH", f"/contributions/{contribution['id']}",
                     {"version": contribution["version"], "text": "配合推进热源项目审批"})
        submitted = ndrc("POST", f"/contributions/{contribution['id']}/submit", {"version": saved["version"]})
        assert submitted["status"] == "submitted"

    with at(6):
        report = housing("GET", f"/reports/{report_id}")
        assert "市发展改革委" not in report["missing_contributions"]
        assert any(c["department"] == "市发展改革委" and c["text"] == "配合推进热源项目审批"
                   for c in report["contributions"])
        others = [{"target_id": t["id"], "value": 1} for t in report["targets"] if t["id"] != heating["id"]]
        report = housing("PATCH", f"/reports/{report_id}", {"version": report["version"], "values": others})
        report = housing("POST", f"/reports/{report_id}/submit", {"version": report["version"]})
        assert report["status"] == "submitted" and report["permissions"]["edit"] is False

    with at(7):
        queue = office("GET", "/reports?status=submitted")["items"]
        assert [r["id"] for r in queue] == [report_id]
        returned = office("POST", f"/reports/{report_id}/return", {"reason": REASON})
        assert returned["status"] == "returned" and returned["last_return_reason"] == REASON

    with at(8):
        report = housing("GET", f"/reports/{report_id}")
        assert report["status"] == "returned" and report["last_return_reason"] == REASON
        assert report["permissions"]["edit"] is True
        stale = housing("PATCH", f"/reports/{report_id}", {"version": report["version"] - 1, "narrative": "旧"},
                        expect=409)
        assert stale["current_version"] == report["version"]
        revised = housing("PATCH", f"/reports/{report_id}", {
            "version": report["version"], "narrative": "推进城市建成区清洁取暖改造\n统计口径：城市建成区供热面积",
            "values": {str(heating["id"]): 96}})
        assert revised["version"] == report["version"] + 1
        resubmitted = housing("POST", f"/reports/{report_id}/submit", {"version": revised["version"]})
        assert resubmitted["status"] == "submitted"

    with at(9):
        report = office("GET", f"/reports/{report_id}")
        assert report["last_return_reason"] == REASON
        diff = report["resubmission_diff"]
        assert diff["values"] == [{"target_id": heating["id"], "from": 95.5, "to": 96}]
        assert any(line.startswith("+ ") and "统计口径" in line for line in diff["narrative"])
        approved = office("POST", f"/reports/{report_id}/approve", {"comment": "同意", "version": report["version"]})
        assert approved["status"] == "approved"

    final = housing("GET", f"/reports/{report_id}")
    assert final["status"] == "approved" and final["last_return_reason"] == REASON
    trail = [e for e in office("GET", f"/reports/{report_id}/audit")["items"] if e["action"].startswith("report.")]
    assert [(e["action"], e["from"], e["to"], e["actor"]) for e in trail] == [
        ("report.submit", "draft", "submitted", housing.user.username),
        ("report.return", "submitted", "returned", office_user.username),
        ("report.submit", "returned", "submitted", housing.user.username),
        ("report.approve", "submitted", "approved", office_user.username),
    ]
    assert [e["at"] for e in trail] == ["2026-04-06T02:00:00+00:00", "2026-04-07T02:00:00+00:00",
                                        "2026-04-08T02:00:00+00:00", "2026-04-09T02:00:00+00:00"]
    assert trail[1]["comment"] == REASON and trail[3]["comment"] == "同意"
    revisions = housing("GET", f"/reports/{report_id}/revisions")["items"]
    assert [r["status"] for r in revisions] == ["draft", "draft", "submitted", "returned", "submitted"]
    assert [r["actor"] for r in revisions] == [housing.user.username] * 5
    assert {"target_id": heating["id"], "value": 96} in revisions[-1]["values"]

    # the 市交通运输局 liaison: 403 on the report, its contributions and attachments; absent from every list
    for method, path in [("GET", f"/reports/{report_id}"), ("GET", f"/reports/{report_id}/audit"),
                         ("GET", f"/reports/{report_id}/revisions"), ("POST", f"/reports/{report_id}/submit"),
                         ("POST", f"/reports/{report_id}/approve"), ("POST", f"/reports/{report_id}/return"),
                         ("PATCH", f"/reports/{report_id}"), ("GET", f"/contributions/{contribution['id']}"),
                         ("PATCH", f"/contributions/{contribution['id']}"),
                         ("POST", f"/contributions/{contribution['id']}/submit"),
                         ("GET", f"/attachments/{attachment['id']}"), ("GET", f"/assignments/{assignment['id']}"),
                         ("POST", f"/assignments/{assignment['id']}/acknowledge")]:
        problem = transport(method, path, {"version": 1, "reason": "x", "text": "x"}, expect=403)
        assert problem["status"] == 403
    transport("POST", f"/reports/{report_id}/attachments", expect=403,
              data={"file": (io.BytesIO(PDF), "x.pdf")}, content_type="multipart/form-data")
    assert report_id not in {r["id"] for r in transport.all("/reports")}
    assert transport.all("/reports?task_code=3.4.3") == []
    assert transport("GET", f"/contributions?report_id={report_id}")["total"] == 0
    assert contribution["id"] not in {c["id"] for c in transport.all("/contributions")}
    assert assignment["id"] not in {a["id"] for a in transport.all("/assignments")}
    assert all(a["department"] == "市交通运输局" for a in transport.all("/assignments"))
