"""The account pages through HTTP: profile, personal API tokens (shown once, revocable), the inbox."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from models import ApiToken, Notification, Role
from tests.conftest import NOW, make_user
from workflow import notify
from workflow.auth.tokens import user_for_token
from workflow.extensions import db


def html_of(response) -> str:
    return response.get_data(as_text=True)


def test_profile_shows_who_i_am(client, login_as):
    user = login_as(Role.LIAISON, department="市住房城乡建设局")
    html = html_of(client.get("/account/"))
    assert user.username in html and "联络员" in html and "市住房城乡建设局" in html
    assert "个人 API 令牌" in html and "中文" in html


def test_language_preference_is_saved(client, login_as):
    user = login_as(Role.OFFICE)
    assert client.post("/account/language", data={"locale": "en"}).status_code == 302
    db.session.refresh(user)
    assert user.locale == "en"
    assert client.post("/account/language", data={"locale": "xx"}).status_code == 400


def test_token_is_shown_once_listed_and_revoked(client, login_as):
    user = login_as(Role.LIAISON, department="市住房城乡建设局")
    response = client.post("/account/tokens", data={"name": "OA 平台对接"})
    html = html_of(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="new-token" value="(dbt_[^"]+)"', html).group(1)
    assert "只显示这一次" in html

    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    html = html_of(client.get("/account/"))
    assert token not in html  # never again
    assert "OA 平台对接" in html and f"{row.prefix}…" in html and "从未使用" in html
    assert user_for_token(token, now=NOW).id == user.id  # it works
    assert f'action="/account/tokens/{row.id}/revoke"' in html

    response = client.post(f"/account/tokens/{row.id}/revoke")
    assert response.status_code == 302
    db.session.refresh(row)
    assert row.revoked_at is not None
    assert user_for_token(token, now=NOW) is None
    html = html_of(client.get("/account/"))
    assert "已撤销" in html and f'action="/account/tokens/{row.id}/revoke"' not in html


def test_token_name_too_long_is_a_field_error(client, login_as):
    user = login_as(Role.OFFICE)
    response = client.post("/account/tokens", data={"name": "长" * 101})
    assert response.status_code == 422 and "不能超过 100 个字" in html_of(response)
    assert db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id)) is None


def test_cannot_revoke_someone_elses_token(client, login_as):
    from workflow.auth.tokens import create_token

    other = make_user(Role.LIAISON, "市交通运输局")
    row, _token = create_token(other, name="theirs", now=NOW)
    login_as(Role.LIAISON, department="市住房城乡建设局")
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 403
    assert client.post("/account/tokens/999999/revoke").status_code == 404
    db.session.refresh(row)
    assert row.revoked_at is None


def _notes(user, n: int) -> list[Notification]:
    notes = [notify.queue(user, kind="test", key=f"test:{i}", subject=f"消息 {i}", body="正文",
                          link=f"/reports/{i}", now=NOW + timedelta(minutes=i)) for i in range(n)]
    db.session.commit()
    return notes


def test_inbox_newest_first_unread_bold_and_mark_read(client, login_as):
    user = login_as(Role.LIAISON, department="市住房城乡建设局")
    other = make_user(Role.LIAISON, "市交通运输局")
    notes = _notes(user, 3)
    theirs = _notes(other, 1)[0]
    html = html_of(client.get("/account/inbox"))
    assert [int(i) for i in re.findall(r'id="n(\d+)"', html)] == [n.id for n in reversed(notes)]
    assert html.count('class="list-group-item d-flex gap-3 align-items-start unread"') == 3
    assert "未读 3 条" in html and f'id="n{theirs.id}"' not in html
    assert '<span class="badge text-bg-warning">3</span>' in html_of(client.get("/my/"))  # the nav badge

    response = client.post("/account/inbox/read", data={"ids": [notes[0].id, theirs.id]})
    assert response.status_code == 302
    db.session.refresh(notes[0])
    db.session.refresh(theirs)
    assert notes[0].read_at is not None and theirs.read_at is None  # someone else's id is ignored
    html = html_of(client.get("/account/inbox"))
    assert "未读 2 条" in html

    assert client.post("/account/inbox/read", data={"all": "1"}).status_code == 302
    assert all(db.session.get(Notification, n.id).read_at for n in notes)
    assert db.session.get(Notification, theirs.id).read_at is None
    assert "全部标为已读" not in html_of(client.get("/account/inbox"))


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, login_as):
    user = login_as(Role.LIAISON, department="市住房城乡建设局")
    note = _notes(user, 1)[0]
    other = _notes(make_user(Role.LIAISON, "市交通运输局"), 1)[0]
    response = client.get(f"/account/inbox/{note.id}")
    assert response.status_code == 302 and response.headers["Location"] == "/reports/0"
    db.session.refresh(note)
    assert note.read_at is not None
    assert client.get(f"/account/inbox/{other.id}").status_code == 404
    assert client.get("/account/inbox/999999").status_code == 404


def test_a_foreign_link_is_never_followed(client, login_as):
    user = login_as(Role.OFFICE)
    note = notify.queue(user, kind="test", key="evil", subject="x", link="https://evil.example/", now=NOW)
    db.session.commit()
    response = client.get(f"/account/inbox/{note.id}")
    assert response.headers["Location"].endswith("/account/inbox")


def test_inbox_pages(client, login_as):
    user = login_as(Role.OFFICE)
    _notes(user, 35)
    html = html_of(client.get("/account/inbox"))
    assert len(re.findall(r'id="n\d+"', html)) == 30 and 'href="/account/inbox?page=2"' in html
    html = html_of(client.get("/account/inbox?page=2"))
    assert len(re.findall(r'id="n\d+"', html)) == 5
