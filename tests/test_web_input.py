"""Whatever a visitor puts in a URL, a query string or a hidden field, the web pages answer without a 500: ids
outside what the id columns hold are no row (404), page numbers and id filters out of range are ignored; and
the domain-error handler (a refused POST flashes its message and goes back to the page it came from)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from models import OutboxEmail, Role, User
from models.notify import EmailStatus
from tests.conftest import NOW
from workflow import notify
from workflow.converters import MAX_ID, IdConverter, parse_id, parse_ids
from workflow.extensions import db

OUT_OF_RANGE = [2**63, 2**64, MAX_ID + 1, 0, -1]
ODD_NUMBERS = ["99999999999999999999", str(2**63), str(2**64), str(MAX_ID + 1), "abc", "", "-1", "0", "1e3", "²",
               "٣", "9" * 5000]


def _web_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static" and not r.endpoint.startswith("bootstrap.")]


def _url(rule, value) -> str:
    """The rule's path with every id set to `value` and any other integer (the evaluation year) valid."""
    path = re.sub(r"<id:[a-z_]+>", str(value), rule.rule)
    return re.sub(r"<int:[a-z_]+>", "2026", path)


def _id_rules(app):
    return [r for r in _web_rules(app) if any(isinstance(c, IdConverter) for c in r._converters.values())]


def test_web_routes_take_ids_through_the_bounded_converter(app):
    """No web route parses an id with <int:...> (which lets 2**64 through to the database)."""
    assert len(_id_rules(app)) >= 30
    for rule in _web_rules(app):
        if rule.endpoint.startswith("api."):
            continue  # the API's routes move with the API
        for name, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter) and not isinstance(converter, IdConverter):
                assert name == "year", rule.rule


@pytest.mark.parametrize("anonymous", [True, False])
def test_every_id_route_answers_404_for_ids_out_of_range(app, client, login_as, anonymous):
    if not anonymous:
        login_as(Role.OFFICE)
    for rule in _id_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for value in OUT_OF_RANGE:
                response = client.open(_url(rule, value), method=method)
                assert response.status_code == 404, (method, _url(rule, value), response.status_code)


def test_the_largest_id_is_looked_up_without_an_error(app, client, login_as):
    """MAX_ID itself reaches the views and the database (no such row: 404, or 403 before the lookup)."""
    for role in (Role.OFFICE, Role.ADMIN):
        login_as(role)
        for rule in _id_rules(app):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(_url(rule, MAX_ID), method=method)
                allowed = (401, 404) if rule.endpoint.startswith("api.") else (403, 404)  # the API wants a token
                assert response.status_code in allowed, (role, method, _url(rule, MAX_ID), response.status_code)


def test_parse_id_accepts_only_ascii_numbers_in_range():
    assert parse_id("12") == 12 and parse_id(7) == 7 and parse_id(" 3 ") == 3 and parse_id(str(MAX_ID)) == MAX_ID
    assert all(parse_id(value) is None for value in ODD_NUMBERS + [None, 2**64, -5])
    assert parse_ids(["3", "x", "3", str(2**64), "1"]) == [1, 3]


@pytest.mark.parametrize("role,url", [
    (Role.OFFICE, "/review/?status=all&page={}"),
    (Role.OFFICE, "/escalations/?page={}"),
    (Role.OFFICE, "/escalations/?tab=closed&department={0}&plan={0}&page={0}"),
    (Role.OFFICE, "/account/inbox?page={}"),
    (Role.ADMIN, "/admin/mailbox?status=pending&page={}"),
])
def test_page_numbers_and_id_filters_out_of_range_show_a_page(client, login_as, role, url):
    user = login_as(role)
    for i in range(35):
        notify.queue(user, kind="test", key=f"n{i}", subject=f"消息 {i}", now=NOW)
    db.session.commit()
    for value in ODD_NUMBERS:
        response = client.get(url.format(value))
        assert response.status_code == 200, (url.format(value)[:80], response.status_code)


def test_a_page_past_the_end_shows_the_last_page_and_the_pager_links_pages(client, login_as):
    user = login_as(Role.OFFICE)
    for i in range(65):
        notify.queue(user, kind="test", key=f"n{i}", subject=f"消息 {i}", now=NOW)
    db.session.commit()
    html = client.get("/account/inbox?page=999").get_data(as_text=True)
    assert len(re.findall(r'id="n\d+"', html)) == 5                      # page 3 of 30 + 30 + 5
    assert 'aria-current="page">3<' in html
    assert 'href="/account/inbox?page=2"' in html and 'href="/account/inbox"' in html  # page 1 without ?page=1


def test_hidden_numbers_out_of_range_in_posted_lists_are_ignored(client, login_as):
    user = login_as(Role.OFFICE)
    note = notify.queue(user, kind="test", key="one", subject="一条", now=NOW)
    db.session.commit()
    response = client.post("/account/inbox/read", data={"ids": [str(2**64), "abc", str(note.id)],
                                                         "page": "99999999999999999999"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/inbox")
    db.session.refresh(note)
    assert note.read_at is not None
    response = client.post("/review/bulk-approve", data={"report_ids": [str(2**64), str(MAX_ID), "0"]})
    assert response.status_code == 302


# -- the domain-error handler ------------------------------------------------------------------------------

def _pending_email() -> OutboxEmail:
    row = OutboxEmail(to_address="liaison@zjj.example.gov.cn", subject="提醒", text_body="x", html_body="<p>x</p>",
                      created_at=NOW, status=EmailStatus.PENDING)
    db.session.add(row)
    db.session.commit()
    return row


def test_a_conflict_on_a_post_flashes_and_goes_back_to_the_page_it_came_from(client, login_as):
    login_as(Role.ADMIN)
    row = _pending_email()
    page = f"http://localhost/admin/mailbox/{row.id}?from=list"
    response = client.post(f"/admin/mailbox/{row.id}/retry", headers={"Referer": page})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/mailbox/{row.id}?from=list"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "只有已搁置的邮件可以重新发送" in html
    db.session.refresh(row)
    assert row.status == EmailStatus.PENDING and row.attempts == 0


@pytest.mark.parametrize("referer", [None, "https://evil.example/admin/mailbox", "http://localhost/admin/mailbox/1/retry"])
def test_without_a_page_of_ours_to_go_back_to_a_refusal_goes_home(client, login_as, referer):
    """No Referer, another site's, or a POST-only address (a form re-rendered after an error): the home page."""
    login_as(Role.ADMIN)
    row = _pending_email()
    response = client.post(f"/admin/mailbox/{row.id}/retry", headers={"Referer": referer} if referer else {})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "只有已搁置的邮件可以重新发送" in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_missing_and_forbidden_are_error_pages_with_their_status(client, login_as):
    owner = login_as(Role.LIAISON, department="市住房城乡建设局")
    note = notify.queue(owner, kind="test", key="mine", subject="我的", link="/my/tasks", now=NOW)
    db.session.commit()
    login_as(Role.OFFICE)
    response = client.get(f"/account/inbox/{note.id}")     # someone else's: the service says NotFound
    assert response.status_code == 404 and "消息不存在" in response.get_data(as_text=True)


def test_a_validation_failure_keeps_what_was_typed_beside_the_field_errors(client, login_as):
    login_as(Role.ADMIN)
    taken = db.session.scalar(select(User.username))
    before = db.session.scalar(select(func.count(User.id)))
    response = client.post("/admin/users/new", data={"username": taken, "display_name": "王小明",
                                                     "email": "wang@example.gov.cn", "role": "office",
                                                     "department": "", "password": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"用户名“{taken}”已被使用" in html
    assert 'value="王小明"' in html and 'value="wang@example.gov.cn"' in html
    assert db.session.scalar(select(func.count(User.id))) == before


def test_select_values_out_of_range_are_no_choice(client, login_as):
    """A tampered <select> (a department or a user id past the id columns) is "nothing chosen", not a 500."""
    login_as(Role.ADMIN)
    response = client.post("/admin/users/new", data={"username": "new.liaison", "role": "liaison",
                                                     "department": str(2**64), "password": ""})
    assert response.status_code == 422 and 'value="new.liaison"' in response.get_data(as_text=True)
    response = client.post("/settings/substitutes", data={"user": str(2**64), "substitute": "99999999999999999999",
                                                          "start": "2026-05-01", "end": "2026-05-02"})
    assert response.status_code == 422 and "请选择被代理人" in response.get_data(as_text=True)


def test_digits_that_are_not_ascii_are_refused_on_the_form(client, login_as):
    """'²' passes str.isdigit() but not int(): publish and reminder-rule forms answer 422 with the form."""
    from tests.conftest import import_text_plan

    plan = import_text_plan("另一方案\n一、任务\n(一)推进\n1.开展工作。(市交通运输局负责)\n", "other.txt")
    login_as(Role.OFFICE)
    for data in ({"cadence": "quarterly", "first_period": "²²²²Q1", "deadline_workdays": "5", "preview": "1"},
                 {"cadence": "quarterly", "first_period": "2026Q1", "deadline_workdays": "²", "preview": "1"}):
        response = client.post(f"/review/plans/{plan.id}/publish", data=data)
        assert response.status_code == 422 and data["first_period"] in response.get_data(as_text=True), data
    response = client.post(f"/settings/plans/{plan.id}/reminders", data={"due_soon_workdays": "²", "level1_late": "1",
                                                                          "level2_late": "3", "level3_late": "5",
                                                                          "returned_grace_workdays": "3",
                                                                          "review_grace_workdays": "3", "submit": "1"})
    assert response.status_code == 422
