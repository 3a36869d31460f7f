"""The OpenAPI 3.1 document matches the implementation: every route is described and every described path
exists; real responses of every operation (success and problem details alike) validate against the schema of
their status code; the request bodies the server accepted validate against the described request schemas."""
from __future__ import annotations

import io
import re
from collections import defaultdict
from datetime import UTC, datetime

import pytest
import time_machine
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from models import Role
from tests.conftest import make_user
from tests.factories import PDF, liaison_of, published_fushun, report_for
from workflow.api.openapi import build_document
from workflow.auth.tokens import create_token, revoke_token
from workflow.bulletins import services as bulletins

PREFIX = "/api/v1"
DOC_URI = "urn:workflow:api:openapi"
LATER = datetime(2026, 4, 3, 2, 0, tzinfo=UTC)
METHODS = {"get", "post", "patch", "put", "delete"}


@pytest.fixture(scope="module")
def doc() -> dict:
    return build_document()


def resolve(doc: dict, node: dict) -> dict:
    """Follow a local $ref (#/components/...) to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def path_regex(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


def flask_api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(PREFIX))
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in doc["paths"].items() for method in item if method in METHODS}


# -- the document itself ---------------------------------------------------------------------------------

def test_document_is_served_without_a_token_and_is_openapi_3_1(client, doc):
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    served = response.get_json()
    assert served == doc
    assert served["openapi"] == "3.1.0" and served["servers"] == [{"url": PREFIX}]
    assert served["components"]["securitySchemes"]["bearerAuth"] == {**served["components"]["securitySchemes"][
        "bearerAuth"], "type": "http", "scheme": "bearer"}
    assert served["security"] == [{"bearerAuth": []}]
    assert "UTC" in served["info"]["description"] and "400" in served["info"]["description"]


def test_every_schema_is_valid_json_schema_and_every_ref_resolves(doc):
    for name, schema in doc["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # pragma: no cover (names the broken schema)
            raise AssertionError(f"{name}: {exc}") from exc

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                assert resolve(doc, node) is not None, node["$ref"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    operation_ids = [op["operationId"] for path, item in doc["paths"].items() for m, op in item.items()]
    assert len(operation_ids) == len(set(operation_ids)) and all(operation_ids)


def test_every_operation_documents_its_path_parameters_and_problem_responses(doc):
    for path, item in doc["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            params = [resolve(doc, p) for p in op.get("parameters", [])]
            assert {p["name"] for p in params if p["in"] == "path"} == names, (path, method)
            if op.get("security") != []:
                assert "401" in op["responses"], (path, method)
            for status, response in op["responses"].items():
                response = resolve(doc, response)
                if status.startswith(("4", "5")):
                    assert set(response["content"]) == {"application/problem+json"}, (path, method, status)


def test_every_flask_route_is_documented_and_every_documented_path_exists(app, doc):
    routes = flask_api_routes(app)
    documented = documented_operations(doc)
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations that do not exist"


# -- real responses against the document -----------------------------------------------------------------

class CheckedClient:
    """Calls the API and validates every answer against the document; remembers what it has covered."""

    def __init__(self, client, doc: dict):
        self.client, self.doc = client, doc
        registry = Registry().with_resource(DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
        self.registry = registry
        self.routes = [(path_regex(p), p) for p in doc["paths"]]
        self.covered: dict[tuple[str, str], set[int]] = defaultdict(set)

    def validator(self, schema: dict) -> Draft202012Validator:
        if "$ref" in schema:
            schema = {"$ref": DOC_URI + schema["$ref"]}
        return Draft202012Validator(schema, registry=self.registry)

    def operation(self, method: str, url: str) -> tuple[str, dict]:
        path = url.split("?")[0]
        for regex, template in self.routes:
            if regex.match(path):
                item = self.doc["paths"][template]
                assert method in item, f"{method.upper()} {template} is not documented"
                return template, item[method]
        raise AssertionError(f"{path} is not documented")

    def call(self, method: str, url: str, token: str | None, *, expect: int, json=None, query=None, **kw):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.open(f"{PREFIX}{url}", method=method.upper(), headers=headers, json=json,
                                    query_string=query, **kw)
        assert response.status_code == expect, (method, url, response.get_data(as_text=True))
        template, op = self.operation(method, url)
        documented = {resolve(self.doc, p)["name"] for p in op.get("parameters", []) if
                      resolve(self.doc, p)["in"] == "query"}
        used = set(query or {}) | {pair.split("=")[0] for pair in url.partition("?")[2].split("&") if pair}
        assert used <= documented, (template, used - documented)
        answer = op["responses"].get(str(expect))
        assert answer is not None, f"{method.upper()} {template} does not document status {expect}"
        answer = resolve(self.doc, answer)
        content = answer.get("content", {})
        if response.mimetype in ("application/json", "application/problem+json"):
            assert response.mimetype in content, (template, expect, response.mimetype)
            errors = sorted(self.validator(content[response.mimetype]["schema"]).iter_errors(response.get_json()),
                            key=lambda e: list(e.path))
            assert not errors, (template, expect, [f"{list(e.path)}: {e.message}" for e in errors[:5]])
        else:
            assert "*/*" in content or response.mimetype in content, (template, expect, response.mimetype)
        if 200 <= expect < 300 and json is not None:
            body = op["requestBody"]["content"]["application/json"]["schema"]
            errors = list(self.validator(body).iter_errors(json))
            assert not errors, (template, "request", [e.message for e in errors[:5]])
        self.covered[(template, method)].add(expect)
        return response.get_json() if response.is_json else response


@pytest.fixture
def checked(app, client, doc):
    return CheckedClient(client, doc)


def token_for(user) -> str:
    return create_token(user, name="openapi", now=LATER, actor=user)[1]


def test_real_responses_of_every_operation_match_the_document(app, checked, doc):
    with time_machine.travel(LATER, tick=False):
        _exercise_everything(checked)
    missing = {op for op in documented_operations(doc) if not any(200 <= s < 300 for s in checked.covered[op])}
    assert missing == set(), "operations never called successfully"
    statuses = set().union(*checked.covered.values())
    assert {400, 401, 403, 404, 409, 413, 422} <= statuses


def _exercise_everything(api: CheckedClient) -> None:
    plan, office_user = published_fushun()
    office, housing = token_for(office_user), token_for(liaison_of("市住房城乡建设局"))
    ndrc, transport = token_for(liaison_of("市发展改革委")), token_for(liaison_of("市交通运输局"))
    leader = token_for(make_user(Role.LEADER))
    report = report_for(plan, "3.4.3")
    rid = report.id
    target = next(t for t in report.task.targets if "清洁取暖率" in t.metric)

    # meta, people, plans, tasks, departments
    api.call("get", "/openapi.json", None, expect=200)
    api.call("get", "/me", housing, expect=200)
    api.call("get", "/me", None, expect=401)
    api.call("get", "/me", "dbt_not-a-token", expect=401)
    api.call("get", "/plans", office, expect=200, query={"page": 1, "per_page": 10})
    api.call("get", "/plans", office, expect=400, query={"per_page": "abc"})
    api.call("get", "/plans", housing, expect=403)
    api.call("get", f"/plans/{plan.id}", leader, expect=200)
    api.call("get", f"/plans/{plan.id}", housing, expect=403)
    api.call("get", "/plans/99999", office, expect=404)
    api.call("get", f"/plans/{plan.id}/overview", leader, expect=200)
    api.call("get", f"/plans/{plan.id}/overview", housing, expect=403)
    api.call("get", "/plans/99999/overview", office, expect=404)
    tasks = api.call("get", "/tasks", office, expect=200, query={"plan_id": plan.id, "q": "清洁取暖"})
    api.call("get", "/tasks", housing, expect=200, query={"department": "市住房城乡建设局"})
    api.call("get", "/tasks", office, expect=400, query={"department": "不存在的局"})
    api.call("get", f"/tasks/{tasks['items'][0]['id']}", office, expect=200)
    other_task = next(t for t in plan.tasks if "市住房城乡建设局" not in {a.department.name for a in t.assignments})
    api.call("get", f"/tasks/{other_task.id}", housing, expect=403)
    api.call("get", "/tasks/99999", office, expect=404)
    api.call("get", "/departments", housing, expect=200, query={"per_page": 200})
    api.call("get", "/departments", housing, expect=400, query={"per_page": 500})

    # assignments
    mine = api.call("get", "/assignments", housing, expect=200, query={"status": "pending", "per_page": 200})
    lead = next(a for a in mine["items"] if a["task_code"] == "3.4.3")
    other = next(a for a in mine["items"] if a["id"] != lead["id"])
    api.call("get", "/assignments", office, expect=200, query={"department": "市大数据管理局", "plan_id": plan.id})
    api.call("get", "/assignments", office, expect=400, query={"status": "lost"})
    api.call("get", f"/assignments/{lead['id']}", housing, expect=200)
    api.call("get", f"/assignments/{lead['id']}", transport, expect=403)
    api.call("get", "/assignments/99999", housing, expect=404)
    api.call("post", f"/assignments/{lead['id']}/acknowledge", housing, expect=400, data=b"[1]")
    api.call("post", f"/assignments/{lead['id']}/acknowledge", housing, expect=422, json={"version": "one"})
    api.call("post", f"/assignments/{lead['id']}/acknowledge", housing, expect=409, json={"version": 99})
    api.call("post", f"/assignments/{lead['id']}/acknowledge", transport, expect=403)
    api.call("post", "/assignments/99999/acknowledge", housing, expect=404)
    api.call("post", f"/assignments/{lead['id']}/acknowledge", housing, expect=200,
             json={"version": lead["version"]})
    api.call("post", f"/assignments/{other['id']}/adjustment", housing, expect=400, data=b"")
    api.call("post", f"/assignments/{other['id']}/adjustment", housing, expect=422,
             json={"reason": "", "proposed_department": ""})
    api.call("post", f"/assignments/{other['id']}/adjustment", transport, expect=403,
             json={"reason": "x", "proposed_department": "市营商局"})
    api.call("post", "/assignments/99999/adjustment", housing, expect=404,
             json={"reason": "x", "proposed_department": "市营商局"})
    api.call("post", f"/assignments/{lead['id']}/adjustment", housing, expect=409,
             json={"reason": "已签收后不能申请", "proposed_department": "市营商局"})
    api.call("post", f"/assignments/{other['id']}/adjustment", housing, expect=201,
             json={"reason": "不属于本单位职责", "proposed_department": "市营商局"})

    # reports: lists and the draft
    api.call("get", "/reports", office, expect=200, query={"period": "2026Q1", "status": "draft",
                                                           "department": "市住房城乡建设局", "task_code": "3.4.3",
                                                           "overdue": "false", "plan_id": plan.id})
    api.call("get", "/reports", housing, expect=200, query={"page": 2, "per_page": 3})
    api.call("get", "/reports", office, expect=400, query={"overdue": "sometimes"})
    api.call("get", f"/reports/{rid}", housing, expect=200)
    api.call("get", f"/reports/{rid}", transport, expect=403)
    api.call("get", "/reports/99999", office, expect=404)
    api.call("patch", f"/reports/{rid}", housing, expect=400, data=b"{oops", content_type="application/json")
    api.call("patch", f"/reports/{rid}", housing, expect=422, json={"version": 1, "percent_complete": 130})
    api.call("patch", f"/reports/{rid}", transport, expect=403, json={"version": 1, "narrative": "x"})
    api.call("patch", "/reports/99999", housing, expect=404, json={"version": 1})
    draft = api.call("patch", f"/reports/{rid}", housing, expect=200, json={
        "version": 1, "narrative": "推进清洁取暖", "percent_complete": 40, "progress": "on_track",
        "values": [{"target_id": target.id, "value": 95.5}]})
    api.call("patch", f"/reports/{rid}", housing, expect=409, json={"version": 1, "narrative": "旧稿"})
    api.call("post", f"/reports/{rid}/attachments", housing, expect=201,
             data={"file": (io.BytesIO(PDF), "台账.pdf")}, content_type="multipart/form-data")
    api.call("post", f"/reports/{rid}/attachments", housing, expect=422,
             data={"file": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 64), "台账.pdf")}, content_type="multipart/form-data")
    api.call("post", f"/reports/{rid}/attachments", transport, expect=403,
             data={"file": (io.BytesIO(PDF), "x.pdf")}, content_type="multipart/form-data")
    api.call("post", "/reports/99999/attachments", housing, expect=404,
             data={"file": (io.BytesIO(PDF), "x.pdf")}, content_type="multipart/form-data")
    api.client.application.config["ATTACHMENT_MAX_BYTES"] = 256
    api.call("post", f"/reports/{rid}/attachments", housing, expect=413,
             data={"file": (io.BytesIO(PDF + b"0" * 1024), "big.pdf")}, content_type="multipart/form-data")
    attachment_id = api.call("get", f"/reports/{rid}", housing, expect=200)["attachments"][0]["id"]
    api.call("get", f"/attachments/{attachment_id}", office, expect=200)
    api.call("get", f"/attachments/{attachment_id}", transport, expect=403)
    api.call("get", "/attachments/99999", office, expect=404)

    # contributions
    [contribution] = api.call("get", "/contributions", ndrc, expect=200,
                              query={"report_id": rid, "department": "市发展改革委", "period": "2026Q1",
                                     "status": "draft"})["items"]
    cid = contribution["id"]
    api.call("get", "/contributions", ndrc, expect=400, query={"report_id": "x"})
    api.call("get", f"/contributions/{cid}", ndrc, expect=200)
    api.call("get", f"/contributions/{cid}", housing, expect=403)  # the lead reads it once it is submitted
    api.call("get", f"/contributions/{cid}", transport, expect=403)
    api.call("get", "/contributions/99999", ndrc, expect=404)
    api.call("patch", f"/contributions/{cid}", ndrc, expect=400, data=b"null", content_type="application/json")
    api.call("patch", f"/contributions/{cid}", ndrc, expect=422, json={"text": "缺版本"})
    api.call("patch", f"/contributions/{cid}", transport, expect=403, json={"version": 1, "text": "x"})
    api.call("patch", "/contributions/99999", ndrc, expect=404, json={"version": 1, "text": "x"})
    saved = api.call("patch", f"/contributions/{cid}", ndrc, expect=200, json={"version": 1, "text": "配合推进"})
    api.call("patch", f"/contributions/{cid}", ndrc, expect=409, json={"version": 1, "text": "旧"})
    api.call("post", f"/contributions/{cid}/submit", ndrc, expect=400, data=b"{", content_type="application/json")
    api.call("post", f"/contributions/{cid}/submit", transport, expect=403)
    api.call("post", "/contributions/99999/submit", ndrc, expect=404)
    api.call("post", f"/contributions/{cid}/submit", ndrc, expect=409, json={"version": 1})
    api.call("post", f"/contributions/{cid}/submit", ndrc, expect=200, json={"version": saved["version"]})
    api.call("post", f"/contributions/{cid}/submit", ndrc, expect=403)  # submitted: no longer editable
    api.call("get", f"/contributions/{cid}", housing, expect=200)
    other_c = api.call("get", "/contributions", ndrc, expect=200,
                       query={"status": "draft", "department": "市发展改革委"})["items"][0]
    api.call("post", f"/contributions/{other_c['id']}/submit", ndrc, expect=422)  # empty text

    # submit, return, resubmit, approve
    api.call("post", f"/reports/{rid}/submit", housing, expect=400, data=b"5", content_type="application/json")
    api.call("post", f"/reports/{rid}/submit", housing, expect=422)  # other targets still empty
    api.call("post", f"/reports/{rid}/submit", housing, expect=409, json={"version": 1})
    api.call("post", f"/reports/{rid}/submit", transport, expect=403)
    api.call("post", "/reports/99999/submit", housing, expect=404)
    api.call("post", f"/reports/{rid}/approve", office, expect=409)  # still a draft
    values = [{"target_id": t.id, "value": 1} for t in report.task.targets if t.id != target.id]
    submitted = api.call("post", f"/reports/{rid}/submit", housing, expect=200,
                         json={"version": draft["version"], "values": values})
    api.call("post", f"/reports/{rid}/return", office, expect=400, data=b"[]", content_type="application/json")
    api.call("post", f"/reports/{rid}/return", office, expect=422, json={"reason": " "})
    api.call("post", f"/reports/{rid}/return", housing, expect=403, json={"reason": "x"})
    api.call("post", "/reports/99999/return", office, expect=404, json={"reason": "x"})
    api.call("post", f"/reports/{rid}/return", office, expect=409, json={"reason": "x", "version": 1})
    returned = api.call("post", f"/reports/{rid}/return", office, expect=200,
                        json={"reason": "请补充口径", "version": submitted["version"]})
    resubmitted = api.call("post", f"/reports/{rid}/submit", housing, expect=200, json={
        "version": returned["version"], "narrative": "推进清洁取暖，口径为建成区", "values": {str(target.id): 96}})
    # 撤回 and submit again, before the office decides
    api.call("post", f"/reports/{rid}/withdraw", office, expect=403)
    api.call("post", f"/reports/{rid}/withdraw", housing, expect=409, json={"version": 1})
    withdrawn = api.call("post", f"/reports/{rid}/withdraw", housing, expect=200,
                         json={"version": resubmitted["version"]})
    assert withdrawn["status"] == "draft"
    resubmitted = api.call("post", f"/reports/{rid}/submit", housing, expect=200, json={"version": withdrawn["version"]})
    api.call("post", f"/reports/{rid}/approve", office, expect=400, data=b"true", content_type="application/json")
    api.call("post", f"/reports/{rid}/approve", office, expect=422, json={"comment": 1})
    api.call("post", f"/reports/{rid}/approve", leader, expect=403)
    api.call("post", "/reports/99999/approve", office, expect=404)
    api.call("post", f"/reports/{rid}/approve", office, expect=409, json={"version": 1})
    api.call("post", f"/reports/{rid}/approve", office, expect=200,
             json={"comment": "同意", "version": resubmitted["version"]})
    api.call("get", f"/reports/{rid}", office, expect=200)

    # the indicator tracker, now that a report with values is approved
    api.call("get", "/targets", office, expect=200, query={"plan_id": plan.id, "area": "3.4", "per_page": 5})
    api.call("get", "/targets", housing, expect=200, query={"department": "市住房城乡建设局", "page": 2, "per_page": 1})
    api.call("get", "/targets", office, expect=400, query={"department": "不存在的局"})
    api.call("get", "/targets", office, expect=404, query={"plan_id": 99999})

    # revisions and audit
    api.call("get", f"/reports/{rid}/revisions", housing, expect=200, query={"per_page": 2})
    api.call("get", f"/reports/{rid}/revisions", office, expect=400, query={"page": "first"})
    api.call("get", f"/reports/{rid}/revisions", transport, expect=403)
    api.call("get", "/reports/99999/revisions", office, expect=404)
    api.call("get", f"/reports/{rid}/audit", office, expect=200)
    api.call("get", f"/reports/{rid}/audit", office, expect=400, query={"per_page": 0})
    api.call("get", f"/reports/{rid}/audit", transport, expect=403)
    api.call("get", "/reports/99999/audit", office, expect=404)

    # bulletins (情况通报): published ones for everyone, with their files; a draft is not there
    bulletin = bulletins.open_bulletin(plan, "2026Q1", actor=office_user, now=LATER)
    unpublished = bulletins.open_bulletin(plan, "2026H1", actor=office_user, now=LATER)
    bulletins.publish(bulletin, actor=office_user, now=LATER)
    api.call("get", "/bulletins", housing, expect=200, query={"plan_id": plan.id})
    api.call("get", "/bulletins", housing, expect=400, query={"plan_id": "first"})
    api.call("get", f"/bulletins/{bulletin.id}", transport, expect=200)
    api.call("get", f"/bulletins/{unpublished.id}", office, expect=404)
    api.call("get", f"/bulletins/{bulletin.id}/file", housing, expect=200)
    api.call("get", f"/bulletins/{bulletin.id}/file", housing, expect=200, query={"kind": "docx"})
    api.call("get", f"/bulletins/{bulletin.id}/file", housing, expect=400, query={"kind": "xls"})
    api.call("get", f"/bulletins/{unpublished.id}/file", housing, expect=404)

    # 延期申请 on another report, and 办结销号 of its task
    other = report_for(plan, "3.1.1")
    ask = {"reason": "等待统计数据", "new_deadline": "2026-04-20", "progress": "初稿"}
    api.call("post", f"/reports/{other.id}/extension", transport, expect=403, json=ask)
    api.call("post", f"/reports/{other.id}/extension", ndrc, expect=422, json={**ask, "new_deadline": "2026-04-01"})
    extension = api.call("post", f"/reports/{other.id}/extension", ndrc, expect=201, json=ask)
    api.call("post", f"/reports/{other.id}/extension", ndrc, expect=409, json=ask)
    api.call("post", f"/extensions/{extension['id']}/approve", ndrc, expect=403)
    api.call("post", f"/extensions/{extension['id']}/refuse", office, expect=422, json={})
    api.call("post", f"/extensions/{extension['id']}/approve", office, expect=409, json={"version": 9})
    api.call("post", "/extensions/99999/approve", office, expect=404)
    api.call("post", f"/extensions/{extension['id']}/approve", office, expect=200, json={"comment": "同意"})
    second = api.call("post", f"/reports/{other.id}/extension", ndrc, expect=201,
                      json={**ask, "new_deadline": "2026-04-24"})
    api.call("post", f"/extensions/{second['id']}/refuse", office, expect=200, json={"reason": "已延期一次"})
    tid = other.task_id
    done = {"summary": "全部完成", "values": {}}
    api.call("post", f"/tasks/{tid}/completion", transport, expect=403, json=done)
    api.call("post", f"/tasks/{tid}/completion", ndrc, expect=422, json={"summary": ""})
    first = api.call("post", f"/tasks/{tid}/completion", ndrc, expect=201, json=done)
    api.call("post", f"/tasks/{tid}/completion", ndrc, expect=409, json=done)
    api.call("post", f"/completions/{first['id']}/return", office, expect=422, json={})
    api.call("post", f"/completions/{first['id']}/return", office, expect=200, json={"reason": "请补充材料"})
    completion = api.call("post", f"/tasks/{tid}/completion", ndrc, expect=201, json=done)
    api.call("post", f"/completions/{completion['id']}/confirm", ndrc, expect=403)
    api.call("post", f"/completions/{completion['id']}/confirm", office, expect=200, json={"comment": "同意销号"})
    api.call("post", f"/completions/{completion['id']}/confirm", office, expect=409)
    assert api.call("get", f"/tasks/{tid}", ndrc, expect=200)["status"] == "closed"
    api.call("post", f"/tasks/{tid}/reopen", office, expect=422, json={})
    api.call("post", f"/tasks/{tid}/reopen", ndrc, expect=403, json={"reason": "x"})
    api.call("post", f"/tasks/{tid}/reopen", office, expect=200, json={"reason": "继续推进"})
    api.call("post", f"/tasks/{tid}/reopen", office, expect=409, json={"reason": "again"})

    # a revoked token
    row, revoked = create_token(office_user, now=LATER, actor=office_user)
    revoke_token(row.id, actor=office_user, now=LATER)
    api.call("get", "/reports", revoked, expect=401)


def test_the_checker_rejects_a_response_the_document_does_not_describe(app, client, doc):
    """Guards the guard: a schema the implementation does not meet must fail the validation above."""
    from copy import deepcopy

    strict = deepcopy(doc)
    strict["components"]["schemas"]["Me"]["required"].append("not_a_field")
    strict["components"]["schemas"]["Department"]["properties"]["aliases"] = {"type": "string"}
    user = make_user(Role.LIAISON, "市测试局")
    checker = CheckedClient(client, strict)
    with pytest.raises(AssertionError, match="not_a_field"):
        checker.call("get", "/me", token_for(user), expect=200)
    with pytest.raises(AssertionError, match="aliases"):
        checker.call("get", "/departments", token_for(user), expect=200)
    del strict["paths"]["/plans"]["get"]["responses"]["403"]
    with pytest.raises(AssertionError, match="does not document status 403"):
        checker.call("get", "/plans", token_for(user), expect=403)
