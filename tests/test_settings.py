"""The settings pages through HTTP and their services: 放假调休安排 (and that deadlines use it), the calendar
banner, substitutes (and that reminders reach them), a plan's reminder rules (and that the ladder follows
them), mail frequency; who may use which page; CSRF."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from flask import render_template_string
from flask_login import login_user
from sqlalchemy import event, func, select

from models import (
    AuditEvent,
    Escalation,
    HolidayEntry,
    Notification,
    Period,
    Plan,
    Role,
    Substitute,
    User,
)
from tests.conftest import FUSHUN, PASSWORD, import_text_plan, make_user
from tests.factories import published_fushun, report_for
from workflow.assignments.services import publish_plan
from workflow.calendar.office import office_calendar
from workflow.calendar.periods import period_spec
from workflow.domain import PermissionDenied, ValidationFailed
from workflow.extensions import db
from workflow.scheduling.reminders import DEFAULT_RULES, rules_for, run_reminders
from workflow.settings import services
from workflow.settings.views import calendar_banner_context

HOUSING = "市住房城乡建设局"
TRANSPORT = "市交通运输局"
TODAY = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 2026-03-02 09:00 in Shanghai
BANNER_PAGE = "/_test/calendar-banner"


@pytest.fixture
def app(app):
    """A page that renders the banner partial the way base.html includes it."""
    app.add_url_rule(BANNER_PAGE, "test_calendar_banner",
                     lambda: render_template_string('<main>{% include "settings/_calendar_banner.html" %}</main>'))
    return app


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False) as traveller:
        yield traveller


def log_in(client, user: User):
    client.post("/logout")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return user


def entries() -> list[tuple[str, str, str]]:
    return [(e.day.isoformat(), e.kind, e.name)
            for e in db.session.scalars(select(HolidayEntry).order_by(HolidayEntry.day))]


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def holiday_form(**kw) -> dict:
    return {"name": "", "start": "", "end": "", "workday_1": "", "workday_2": "", **kw}


# -- 放假调休安排 ----------------------------------------------------------------------------------------------

def test_office_enters_a_holiday_and_the_page_shows_it_by_year_with_coverage(client, login_as):
    login_as(Role.OFFICE)
    response = client.post("/settings/holidays", data=holiday_form(name="元旦", start="2027-01-01",
                                                                    end="2027-01-03"))
    assert response.status_code == 302
    assert entries() == [("2027-01-01", "holiday", "元旦"), ("2027-01-02", "holiday", "元旦"),
                         ("2027-01-03", "holiday", "元旦")]
    assert audit_actions() == ["calendar.add"] * 3
    html = client.get("/settings/holidays").get_data(as_text=True)
    assert "已录入元旦：放假 2027-01-01 至 2027-01-03，共 3 天。" in html
    assert 'id="year-2027"' in html and "2027-01-01" in html and "2027-01-03" in html
    coverage = html[html.index("year-coverage"):html.index("entered-days")]
    assert coverage.index("2026") < coverage.index("内置") < coverage.index("2027") < coverage.index("已录入 3 天")
    assert coverage.count("未录入") == 3  # 2028, 2029, 2030
    assert "2031" not in coverage


def test_a_holiday_with_its_make_up_workdays_and_a_workday_on_its_own(client, login_as):
    login_as(Role.ADMIN)
    response = client.post("/settings/holidays", data=holiday_form(
        name="春节", start="2027-02-06", end="2027-02-13", workday_1="2027-01-31", workday_2="2027-02-20"))
    assert response.status_code == 302
    rows = entries()
    assert [r for r in rows if r[1] == "workday"] == [("2027-01-31", "workday", "春节"),
                                                      ("2027-02-20", "workday", "春节")]
    assert len([r for r in rows if r[1] == "holiday"]) == 8
    assert client.post("/settings/holidays", data=holiday_form(name="国庆节", workday_1="2027-09-26")).status_code == 302
    cal = office_calendar()
    assert cal.is_workday(date(2027, 1, 31)) and cal.is_workday(date(2027, 9, 26))
    assert not cal.is_workday(date(2027, 2, 8))  # a Monday off
    html = client.get("/settings/holidays").get_data(as_text=True)
    assert "调休上班" in html and "国庆节" in html and "已录入 11 天" in html


@pytest.mark.parametrize(("data", "field", "message"), [
    (holiday_form(name="元旦", start="2027-01-03", end="2027-01-01"), "end", "结束日期不能早于开始日期"),
    (holiday_form(name="长假", start="2027-07-01", end="2027-07-16"), "end", "一次放假最长 15 天，当前为 16 天"),
    (holiday_form(name="春节", workday_1="2027-01-04"), "workday_1", "调休上班日应是周六或周日，2027-01-04 是周一"),
    (holiday_form(name="春节", start="2026-10-01", end="2026-10-07"), "start", "该年份的官方安排已内置"),
    (holiday_form(name="春节", workday_1="2026-09-27"), "workday_1", "该年份的官方安排已内置"),
    (holiday_form(name="元旦", start="2027-01-01", end="2027-01-03", workday_1="2027-01-02"), "workday_1",
     "不能在本次录入的放假日期之内"),
    (holiday_form(name="元旦", workday_1="2027-01-09", workday_2="2027-01-09"), "workday_2", "重复"),
    (holiday_form(start="2027-01-01", end="2027-01-01"), "name", "请填写节日名称"),
    (holiday_form(name="元旦"), "start", "请填写放假日期或调休上班日期"),
    (holiday_form(name="元旦", start="2027-01-01"), "end", "请填写放假结束日期"),
    (holiday_form(name="元旦", start="2037-01-01", end="2037-01-01"), "start", "只能录入 2026–2036 年的安排"),
    (holiday_form(name="元旦", start="2027-13-01", end="2027-01-01"), "start", "日期格式不对"),
])
def test_holiday_validation_shows_field_errors_and_keeps_what_was_typed(client, login_as, data, field, message):
    login_as(Role.OFFICE)
    response = client.post("/settings/holidays", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    # the message sits under its own field
    field_html = html[html.index(f'id="{field}"'):]
    assert message in field_html[:field_html.index("</div>", field_html.index("invalid-feedback")) + 6]
    for name, value in data.items():
        if value:
            assert f'value="{value}"' in html, name
    assert entries() == []


@pytest.mark.parametrize(("data", "field", "existing"), [
    (holiday_form(name="元旦", start="2026-12-31", end="2027-01-02"), "start", "该年份的官方安排已内置"),
    (holiday_form(name="新年", start="2027-01-03", end="2027-01-04"), "start", "与已录入的 2027-01-03 元旦（放假）重叠"),
    (holiday_form(name="元旦", workday_1="2027-01-02"), "workday_1", "与已录入的 2027-01-02 元旦（放假）重叠"),
    (holiday_form(name="春节", start="2027-01-09", end="2027-01-10"), "start",
     "与已录入的 2027-01-09 元旦（调休上班）重叠"),
])
def test_overlapping_an_existing_entry_is_refused(client, login_as, data, field, existing):
    office = login_as(Role.OFFICE)
    services.add_arrangement(name="元旦", start=date(2027, 1, 1), end=date(2027, 1, 3), workdays=[date(2027, 1, 9)],
                             actor=office, now=TODAY)
    before = entries()
    response = client.post("/settings/holidays", data=data)
    assert response.status_code == 422
    assert existing in response.get_data(as_text=True), re.findall(r"invalid-feedback[^<]*<", response.get_data(as_text=True))
    assert entries() == before


def test_delete_an_entry_with_audit(client, login_as):
    office = login_as(Role.OFFICE)
    rows = services.add_arrangement(name="元旦", start=date(2027, 1, 1), end=date(2027, 1, 3), actor=office, now=TODAY)
    response = client.post(f"/settings/holidays/{rows[1].id}/delete")
    assert response.status_code == 302
    assert [d for d, _k, _n in entries()] == ["2027-01-01", "2027-01-03"]
    event_ = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "calendar.delete")).one()
    assert event_.actor_id == office.id and event_.data == {"day": "2027-01-02", "name": "元旦"}
    assert "已删除 2027-01-02 元旦（放假）" in client.get("/settings/holidays").get_data(as_text=True)
    assert client.post("/settings/holidays/999999/delete").status_code == 404


def test_calendar_services_check_permission_and_count_coverage(app):
    office = make_user(Role.OFFICE)
    liaison = make_user(Role.LIAISON, HOUSING)
    with pytest.raises(PermissionDenied):
        services.add_arrangement(name="元旦", start=date(2027, 1, 1), end=date(2027, 1, 3), actor=liaison, now=TODAY)
    rows = services.add_arrangement(name="元旦", start=date(2027, 1, 1), end=date(2027, 1, 3), actor=office, now=TODAY)
    workday = services.add_arrangement(name="元旦", workdays=[date(2027, 1, 9)], actor=office, now=TODAY)[0]
    assert workday.kind == "workday" and workday.created_by_id == office.id
    with pytest.raises(ValidationFailed) as exc:
        services.add_arrangement(name="元旦", workdays=[date(2027, 1, 9)], actor=office, now=TODAY)
    assert "重叠" in exc.value.errors["workday_1"]
    with pytest.raises(PermissionDenied):
        services.delete_entry(rows[0], actor=liaison, now=TODAY)
    coverage = {c.year: (c.status, c.holidays, c.workdays) for c in services.year_coverage(date(2026, 3, 2))}
    assert coverage == {2026: ("builtin", 0, 0), 2027: ("entered", 3, 1), 2028: ("missing", 0, 0),
                        2029: ("missing", 0, 0), 2030: ("missing", 0, 0)}
    services.delete_entry(rows[0], actor=office, now=TODAY)
    assert services.year_coverage(date(2026, 3, 2))[1].holidays == 2


def test_publishing_after_an_entry_uses_it_for_deadlines(client, login_as):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    office = login_as(Role.OFFICE)
    assert period_spec("quarterly", "2026Q4", calendar=office_calendar()).deadline == date(2027, 1, 7)
    assert client.post("/settings/holidays", data=holiday_form(name="元旦", start="2027-01-01",
                                                                end="2027-01-03")).status_code == 302
    publish_plan(plan, actor=office, now=TODAY, first_period="2026Q1")
    q4 = db.session.scalars(select(Period).where(Period.plan_id == plan.id, Period.key == "2026Q4")).one()
    # 5 working days after 31 December: 4, 5, 6, 7, 8 January (1 January was a Friday off)
    assert q4.deadline == date(2027, 1, 8) and q4.computed_deadline == date(2027, 1, 8)


def test_an_entry_after_publishing_lists_the_deadlines_it_would_move(client, login_as):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    office = login_as(Role.OFFICE)
    publish_plan(plan, actor=office, now=TODAY, first_period="2026Q1")
    html = client.get("/settings/holidays").get_data(as_text=True)
    assert "stale-deadlines" not in html
    client.post("/settings/holidays", data=holiday_form(name="元旦", start="2027-01-01", end="2027-01-03"))
    stale = services.stale_deadlines(date(2026, 3, 2))
    assert [(s.period.key, s.period.deadline, s.recomputed) for s in stale] == [
        ("2026Q4", date(2027, 1, 7), date(2027, 1, 8))]
    html = client.get("/settings/holidays").get_data(as_text=True)
    assert "stale-deadlines" in html and "2027-01-08" in html


# -- the calendar banner ---------------------------------------------------------------------------------------

BANNER = "2027 年尚无官方放假安排，报送期限和提醒按周末计算，请在「放假调休安排」中录入"


@pytest.mark.parametrize("role", [Role.OFFICE, Role.ADMIN])
def test_banner_shows_to_office_and_admin_until_the_coming_year_is_entered(client, login_as, role):
    user = login_as(role)
    html = client.get(BANNER_PAGE).get_data(as_text=True)
    assert BANNER in html and 'href="/settings/holidays"' in html
    services.add_arrangement(name="元旦", start=date(2027, 1, 1), end=date(2027, 1, 3), actor=user, now=TODAY)
    assert "calendar-banner" not in client.get(BANNER_PAGE).get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.LIAISON, Role.DEPT_HEAD, Role.LEADER])
def test_banner_is_not_shown_to_other_roles(client, login_as, role):
    login_as(role, HOUSING if role in (Role.LIAISON, Role.DEPT_HEAD) else None)
    assert "calendar-banner" not in client.get(BANNER_PAGE).get_data(as_text=True)


def test_banner_for_anonymous_and_for_a_year_the_package_does_not_know(client, login_as, frozen):
    assert "calendar-banner" not in client.get(BANNER_PAGE).get_data(as_text=True)
    frozen.move_to(datetime(2027, 3, 1, 1, 0, tzinfo=UTC))
    user = login_as(Role.OFFICE)
    html = client.get(BANNER_PAGE).get_data(as_text=True)
    assert "2027、2028 年尚无官方放假安排" in html
    services.add_arrangement(name="春节", workdays=[date(2028, 1, 29)], actor=user,
                             now=datetime(2027, 3, 1, 1, 0, tzinfo=UTC))
    assert "2027 年尚无官方放假安排" in client.get(BANNER_PAGE).get_data(as_text=True)


def test_banner_context_costs_one_query_and_none_for_liaisons(app):
    office, liaison = make_user(Role.OFFICE), make_user(Role.LIAISON, HOUSING)
    statements = []

    def count(*_args):
        statements.append(1)

    for user, expected, queries in ((office, [2027], 1), (liaison, [], 0)):
        with app.test_request_context("/"):
            login_user(user)
            statements.clear()
            event.listen(db.engine, "before_cursor_execute", count)
            try:
                assert calendar_banner_context() == {"calendar_missing_years": expected}
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            assert len(statements) == queries
    with app.app_context():
        assert calendar_banner_context() == {"calendar_missing_years": []}  # e.g. rendering mail outside a request


# -- substitutes -------------------------------------------------------------------------------------------------

def substitute_form(**kw) -> dict:
    return {"user": "", "substitute": "", "start": "", "end": "", **kw}


def test_a_liaison_names_a_colleague_for_a_date_range(client):
    liaison = make_user(Role.LIAISON, HOUSING, username="housing-liaison")
    head = make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")
    make_user(Role.OFFICE, username="office-wang")
    make_user(Role.LIAISON, TRANSPORT, username="transport-liaison")
    log_in(client, liaison)
    html = client.get("/settings/substitutes").get_data(as_text=True)
    assert "housing-head" in html and "office-wang" in html and "transport-liaison" not in html
    response = client.post("/settings/substitutes", data=substitute_form(
        substitute=str(head.id), start="2026-03-10", end="2026-03-20"))
    assert response.status_code == 302
    row = db.session.scalars(select(Substitute)).one()
    assert (row.user_id, row.substitute_id, row.start_date, row.end_date) == (
        liaison.id, head.id, date(2026, 3, 10), date(2026, 3, 20))
    assert audit_actions() == ["substitute.add"]
    html = client.get("/settings/substitutes").get_data(as_text=True)
    assert "2026-03-10 至 2026-03-20" in html and "未开始" in html
    log_in(client, head)  # the substitute sees whom they stand in for
    assert "我代理的人" in client.get("/settings/substitutes").get_data(as_text=True)


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"substitute": "self", "start": "2026-03-10", "end": "2026-03-20"}, "substitute", "代理人不能是本人"),
    ({"substitute": "other", "start": "2026-03-10", "end": "2026-03-20"}, "substitute", "本单位在用的联络员"),
    ({"substitute": "", "start": "2026-03-10", "end": "2026-03-20"}, "substitute", "请选择代理人"),
    ({"substitute": "999999", "start": "2026-03-10", "end": "2026-03-20"}, "substitute", "请选择代理人"),
    ({"substitute": "head", "start": "2026-03-20", "end": "2026-03-10"}, "end", "结束日期不能早于开始日期"),
    ({"substitute": "head", "start": "2026-02-01", "end": "2026-02-10"}, "end", "结束日期已过"),
    ({"substitute": "head", "start": "2026-03-10", "end": ""}, "end", "请填写结束日期"),
    ({"substitute": "head", "start": "2026-03-10", "end": "2027-04-10"}, "end", "一次最长设置 366 天"),
    ({"substitute": "head", "start": "2026-03-18", "end": "2026-03-25"}, "start",
     "与已设置的代理（housing-deputy，2026-03-15 至 2026-03-19）重叠"),
])
def test_substitute_validation(client, form, field, message):
    liaison = make_user(Role.LIAISON, HOUSING, username="housing-liaison")
    head = make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")
    deputy = make_user(Role.DEPT_HEAD, HOUSING, username="housing-deputy")
    other = make_user(Role.LIAISON, TRANSPORT, username="transport-liaison")
    services.add_substitute(principal=liaison, substitute=deputy, start=date(2026, 3, 15), end=date(2026, 3, 19),
                            actor=liaison, now=TODAY)
    ids = {"self": str(liaison.id), "other": str(other.id), "head": str(head.id)}
    form = {**form, "substitute": ids.get(form["substitute"], form["substitute"])}
    log_in(client, liaison)
    response = client.post("/settings/substitutes", data=substitute_form(**form))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    for key in ("start", "end"):
        if form[key]:
            assert f'value="{form[key]}"' in html
    assert db.session.scalar(select(func.count(Substitute.id))) == 1


def test_the_admin_names_a_substitute_for_anyone_and_deletes_any(client, login_as):
    head = make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")
    liaison = make_user(Role.LIAISON, HOUSING, username="housing-liaison")
    other = make_user(Role.LIAISON, TRANSPORT, username="transport-liaison")
    login_as(Role.ADMIN)
    assert client.post("/settings/substitutes", data=substitute_form(
        substitute=str(liaison.id), start="2026-03-02", end="2026-03-06")).status_code == 422  # who is away?
    assert client.post("/settings/substitutes", data=substitute_form(
        user=str(head.id), substitute=str(other.id), start="2026-03-02", end="2026-03-06")).status_code == 422
    response = client.post("/settings/substitutes", data=substitute_form(
        user=str(head.id), substitute=str(liaison.id), start="2026-03-02", end="2026-03-06"))
    assert response.status_code == 302
    html = client.get("/settings/substitutes").get_data(as_text=True)
    assert "housing-head" in html and "代理中" in html
    row = db.session.scalars(select(Substitute)).one()
    assert client.post(f"/settings/substitutes/{row.id}/delete").status_code == 302
    assert db.session.scalar(select(func.count(Substitute.id))) == 0
    assert audit_actions() == ["substitute.add", "substitute.delete"]


def test_only_the_principal_or_the_admin_deletes_a_substitute(client):
    liaison = make_user(Role.LIAISON, HOUSING, username="housing-liaison")
    head = make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")
    row = services.add_substitute(principal=liaison, substitute=head, start=date(2026, 3, 2), end=date(2026, 3, 6),
                                  actor=liaison, now=TODAY)
    log_in(client, head)  # the substitute may not remove it, nor see it in their own list
    assert "2026-03-06" not in client.get("/settings/substitutes").get_data(as_text=True).split("我代理的人")[0]
    assert client.post(f"/settings/substitutes/{row.id}/delete").status_code == 403
    log_in(client, liaison)
    assert client.post(f"/settings/substitutes/{row.id}/delete").status_code == 302
    assert client.post(f"/settings/substitutes/{row.id}/delete").status_code == 404


def test_reminders_go_to_the_substitute_of_an_absent_head(app):
    plan, _office = published_fushun()
    make_user(Role.LIAISON, HOUSING, username="housing-liaison")
    head = make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")
    deputy = make_user(Role.DEPT_HEAD, HOUSING, username="housing-deputy")
    later = make_user(Role.LIAISON, HOUSING, username="housing-later")
    services.add_substitute(principal=head, substitute=deputy, start=date(2026, 4, 18), end=date(2026, 4, 24),
                            actor=head, now=TODAY)
    admin = make_user(Role.ADMIN)
    services.add_substitute(principal=head, substitute=later, start=date(2026, 4, 25), end=date(2026, 4, 30),
                            actor=admin, now=TODAY)
    run_reminders(now=datetime(2026, 4, 20, 1, tzinfo=UTC))
    report = report_for(plan, "3.4.3")

    def notes(user):
        return db.session.scalars(select(Notification).where(Notification.user_id == user.id)).all()

    head_keys = {n.key.rsplit(":u", 1)[0] for n in notes(head) if n.kind in ("overdue", "escalation")}
    deputy_keys = {n.key.rsplit(":u", 1)[0] for n in notes(deputy) if n.kind in ("overdue", "escalation")}
    assert f"overdue:r{report.id}:L3" in deputy_keys  # the 督办 notice for 3.4.3 reaches the substitute
    assert head_keys and deputy_keys == head_keys
    assert notes(later) == [] or all(n.kind == "assignment.published" for n in notes(later))


# -- reminder rules ----------------------------------------------------------------------------------------------

def rules_form(**kw) -> dict:
    return {**{k: str(v) for k, v in DEFAULT_RULES.items()}, **kw}


def test_the_office_sees_and_edits_a_plans_rules(client, login_as):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    login_as(Role.OFFICE)
    html = client.get(f"/settings/plans/{plan.id}/reminders").get_data(as_text=True)
    assert "逾期满 5 个工作日，生成督办事项" in html and "报送期限前 3 个工作日起" in html
    assert 'name="level3_late"' in html and 'value="5"' in html and "恢复默认" in html
    response = client.post(f"/settings/plans/{plan.id}/reminders", data=rules_form(level3_late="8",
                                                                                   due_soon_workdays="2"))
    assert response.status_code == 302
    db.session.expire_all()
    assert plan.reminder_rules == {"level3_late": 8, "due_soon_workdays": 2}
    assert rules_for(plan)["level3_late"] == 8
    html = client.get(f"/settings/plans/{plan.id}/reminders").get_data(as_text=True)
    assert "逾期满 8 个工作日，生成督办事项" in html and "已调整" in html
    assert "已调整" in client.get("/settings/").get_data(as_text=True)
    response = client.post(f"/settings/plans/{plan.id}/reminders", data=rules_form(reset="恢复默认"))
    assert response.status_code == 302
    db.session.expire_all()
    assert plan.reminder_rules is None and rules_for(plan) == DEFAULT_RULES
    assert [a for a in audit_actions() if "reminder" in a] == ["plan.reminder_rules", "plan.reminder_rules_reset"]
    assert client.get("/settings/plans/999999/reminders").status_code == 404


@pytest.mark.parametrize(("data", "field", "message"), [
    (rules_form(level3_late="abc"), "level3_late", "请填写 0–30 之间的整数"),
    (rules_form(level3_late=""), "level3_late", "请填写 0–30 之间的整数"),
    (rules_form(due_soon_workdays="31"), "due_soon_workdays", "应在 0–30 之间"),
    (rules_form(review_grace_workdays="-1"), "review_grace_workdays", "应在 0–30 之间"),
    (rules_form(level1_late="3"), "level2_late", "二级催办应晚于一级提醒"),
    (rules_form(level3_late="3"), "level3_late", "三级督办应晚于二级催办"),
    (rules_form(level3_late="2.5"), "level3_late", "请填写 0–30 之间的整数"),
])
def test_rule_validation(client, login_as, data, field, message):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    login_as(Role.OFFICE)
    response = client.post(f"/settings/plans/{plan.id}/reminders", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    assert f'value="{data[field]}"' in html
    db.session.expire_all()
    assert plan.reminder_rules is None


def test_a_later_level3_keeps_a_six_days_late_report_at_level2(app, client):
    plan, office = published_fushun()
    make_user(Role.LIAISON, HOUSING, username="housing-liaison")
    make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")
    report = report_for(plan, "3.4.3")
    six_late = datetime(2026, 4, 16, 1, tzinfo=UTC)  # deadline 8 April; 9, 10, 13, 14, 15, 16
    assert office_calendar().workdays_between(report.period.deadline, date(2026, 4, 16)) == 6

    def levels(result):
        return {i["level"] for i in result["queued"] if i["task"] == "3.4.3" and i["period"] == "2026Q1"
                and i["department"] == HOUSING}

    result = run_reminders(now=six_late, dry_run=True)  # with the defaults: 督办
    assert levels(result) == {3}
    assert any(e["task"] == "3.4.3" for e in result["escalations_opened"])
    log_in(client, office)
    assert client.post(f"/settings/plans/{plan.id}/reminders", data=rules_form(level3_late="8")).status_code == 302
    result = run_reminders(now=six_late)
    assert levels(result) == {2}
    assert not any(e["task"] == "3.4.3" for e in result["escalations_opened"])
    assert db.session.scalar(select(func.count(Escalation.id))) == 0


# -- mail frequency ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", list(Role))
def test_everyone_chooses_their_mail_frequency_and_address(client, login_as, role):
    user = login_as(role, HOUSING if role in (Role.LIAISON, Role.DEPT_HEAD) else None)
    html = client.get("/settings/notifications").get_data(as_text=True)
    assert "每次提醒都发" in html and "每天最多一封" in html
    response = client.post("/settings/notifications", data={"digest_frequency": "daily",
                                                            "email": " li@example.gov.cn "})
    assert response.status_code == 302
    db.session.expire_all()
    assert (user.digest_frequency, user.email) == ("daily", "li@example.gov.cn")
    assert audit_actions()[-1] == "user.notification_prefs"
    html = client.get("/settings/notifications").get_data(as_text=True)
    assert 'value="li@example.gov.cn"' in html
    assert re.search(r'<input checked[^>]*value="daily"', html) and not re.search(r'<input checked[^>]*value="pass"', html)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"digest_frequency": "daily", "email": "not-an-address"}, "email", "电子邮箱格式不对"),
    ({"digest_frequency": "hourly", "email": "li@example.gov.cn"}, "digest_frequency", "请选择邮件接收频率"),
])
def test_mail_settings_validation_keeps_what_was_typed(client, login_as, data, field, message):
    user = login_as(Role.LIAISON, HOUSING)
    response = client.post("/settings/notifications", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    assert f'value="{data["email"]}"' in html
    db.session.expire_all()
    assert (user.digest_frequency, user.email) == ("pass", None)


def test_a_blank_address_means_in_app_only(client, login_as):
    user = login_as(Role.OFFICE)
    user.email = "old@example.gov.cn"
    db.session.commit()
    assert client.post("/settings/notifications", data={"digest_frequency": "pass", "email": ""}).status_code == 302
    db.session.expire_all()
    assert user.email is None


# -- who may do what; CSRF --------------------------------------------------------------------------------------

PAGES = ["/settings/", "/settings/holidays", "/settings/substitutes", "/settings/plans/{plan}/reminders",
         "/settings/notifications"]
ALLOWED = {
    Role.ADMIN: {"/settings/", "/settings/holidays", "/settings/substitutes", "/settings/notifications"},
    Role.OFFICE: {"/settings/", "/settings/holidays", "/settings/plans/{plan}/reminders", "/settings/notifications"},
    Role.LEADER: {"/settings/", "/settings/notifications"},
    Role.LIAISON: {"/settings/", "/settings/substitutes", "/settings/notifications"},
    Role.DEPT_HEAD: {"/settings/", "/settings/substitutes", "/settings/notifications"},
}


@pytest.mark.parametrize("role", list(Role))
def test_access_matrix(client, login_as, role):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    login_as(role, HOUSING if role in (Role.LIAISON, Role.DEPT_HEAD) else None)
    for page in PAGES:
        url = page.format(plan=plan.id)
        expected = 200 if page in ALLOWED[role] else 403
        assert client.get(url).status_code == expected, (role, url)
        if page != "/settings/":
            assert client.post(url, data={}).status_code in ((422, 302) if expected == 200 else (403,)), (role, url)
    entry = HolidayEntry(day=date(2027, 1, 1), kind="holiday", name="元旦", created_at=TODAY)
    other = make_user(Role.LIAISON, TRANSPORT)
    sub = Substitute(user_id=other.id, substitute_id=make_user(Role.DEPT_HEAD, TRANSPORT).id,
                     start_date=date(2026, 3, 2), end_date=date(2026, 3, 6), created_at=TODAY)
    db.session.add_all([entry, sub])
    db.session.commit()
    deleted = client.post(f"/settings/holidays/{entry.id}/delete").status_code
    assert deleted == (302 if "/settings/holidays" in ALLOWED[role] else 403)
    deleted = client.post(f"/settings/substitutes/{sub.id}/delete").status_code
    assert deleted == (302 if role == Role.ADMIN else 403)  # someone else's substitute: the admin only
    html = client.get("/settings/").get_data(as_text=True)
    assert ("提醒规则" in html) == (role == Role.OFFICE) and ("放假调休安排" in html) == (
        role in (Role.OFFICE, Role.ADMIN))


def test_anonymous_is_sent_to_log_in(client):
    for page in ("/settings/", "/settings/holidays", "/settings/substitutes", "/settings/notifications",
                 "/settings/plans/1/reminders"):
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(("url", "data"), [
    ("/settings/holidays", holiday_form(name="元旦", start="2027-01-01", end="2027-01-03")),
    ("/settings/notifications", {"digest_frequency": "daily", "email": "a@example.gov.cn"}),
    ("/settings/plans/{plan}/reminders", rules_form(level3_late="8")),
    ("/settings/holidays/{entry}/delete", {}),
])
def test_csrf_is_required(app, client, login_as, url, data):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    office = login_as(Role.OFFICE)
    entry = services.add_arrangement(name="元旦", workdays=[date(2027, 1, 9)], actor=office, now=TODAY)[0]
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(url.format(plan=plan.id, entry=entry.id), data=data).status_code == 400
    assert 'name="csrf_token"' in client.get("/settings/holidays").get_data(as_text=True)
    db.session.expire_all()
    assert len(entries()) == 1 and office.digest_frequency == "pass"
    assert db.session.get(Plan, plan.id).reminder_rules is None


def test_substitute_form_has_csrf_and_junk_input_is_never_a_500(app, client):
    liaison = make_user(Role.LIAISON, HOUSING)
    log_in(client, liaison)
    for data in ({"substitute": "abc", "start": "x", "end": "2026-99-99"}, {"substitute": "-1"},
                 {"user": "1", "substitute": str(liaison.id), "start": "2026-03-02", "end": "2026-03-03"}):
        assert client.post("/settings/substitutes", data=data).status_code == 422
    app.config["WTF_CSRF_ENABLED"] = True
    assert 'name="csrf_token"' in client.get("/settings/substitutes").get_data(as_text=True)
    assert client.post("/settings/substitutes", data={"substitute": "1"}).status_code == 400
