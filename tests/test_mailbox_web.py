"""The admin mailbox page: admins only, every outbox email with its status and error, a safe detail view,
retrying a parked message, and the banner when no mail server is configured."""
from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, Role
from models.notify import EmailStatus
from tests.conftest import count_queries
from tests.test_outbox import (
    HOUSING,
    T0,
    SMTPServer,
    free_port,
    outbox_rows,
    overdue_note,
    person,
    use_server,
)
from workflow.admin.mailbox import PREVIEW_BASE, preview_html
from workflow.extensions import db
from workflow.mail.digests import build_digests
from workflow.mail.smtp import deliver_pass, send_due

BANNER = "未配置邮件服务器：邮件不会发出，仅在此处查看。"


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_only_admins_see_the_mailbox(app, client, login_as):
    use_server(app, None)
    overdue_note(person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn"), 1)
    build_digests(now=T0)
    email_id = outbox_rows()[0].id

    response = client.get("/admin/mailbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login_as(Role.OFFICE)
    assert client.get("/admin/mailbox").status_code == 403
    assert client.get(f"/admin/mailbox/{email_id}").status_code == 403
    assert client.post(f"/admin/mailbox/{email_id}/retry").status_code == 403
    login_as(Role.LIAISON, department=HOUSING)
    assert client.get("/admin/mailbox").status_code == 403

    login_as(Role.ADMIN)
    assert "邮件发件箱" in page(client, "/admin/users")          # linked from the admin navigation
    assert client.get("/admin/mailbox/999999").status_code == 404


def test_without_mail_server_the_page_lists_pending_mail_under_a_banner(app, client, login_as, smtp):
    use_server(app, None)
    for n, address in enumerate(("a@zjj.example.gov.cn", "b@zjj.example.gov.cn")):
        overdue_note(person(Role.LIAISON, HOUSING, address, name=f"联络员{n}"), 1)
    assert deliver_pass(now=T0)["pending"] == 2
    assert smtp.received == []

    login_as(Role.ADMIN)
    body = page(client, "/admin/mailbox")
    assert BANNER in body
    assert "a@zjj.example.gov.cn" in body and "b@zjj.example.gov.cn" in body and "联络员0" in body
    assert body.count("【督办系统】您有 1 条待办提醒（市住房城乡建设局）") == 2
    assert "待发送" in body and "未发出" in body
    assert "发送失败" not in body

    # with a server configured the banner goes and the server is named instead
    use_server(app, smtp.port)
    body = page(client, "/admin/mailbox")
    assert BANNER not in body and f"127.0.0.1:{smtp.port}" in body


def test_the_list_shows_every_status_filters_and_searches(app, client, login_as, smtp):
    use_server(app, smtp.port)
    sent_to = person(Role.LIAISON, HOUSING, "sent@zjj.example.gov.cn")
    overdue_note(sent_to, 1)
    deliver_pass(now=T0)                                             # one sent
    smtp.handler.refuse = "550 5.7.1 relaying denied for parked@zjj.example.gov.cn"
    parked_to = person(Role.DEPT_HEAD, HOUSING, "parked@zjj.example.gov.cn")
    overdue_note(parked_to, 2)
    app.config["MAIL_MAX_ATTEMPTS"] = 1
    deliver_pass(now=T0 + timedelta(minutes=1))                     # one parked
    app.config["MAIL_MAX_ATTEMPTS"] = 5
    retry_to = person(Role.LIAISON, HOUSING, "retry@zjj.example.gov.cn")
    overdue_note(retry_to, 3)
    deliver_pass(now=T0 + timedelta(minutes=2))                     # one pending after a failure
    statuses = {r.to_address: r.status for r in outbox_rows()}
    assert statuses == {"sent@zjj.example.gov.cn": "sent", "parked@zjj.example.gov.cn": "parked",
                        "retry@zjj.example.gov.cn": "pending"}

    login_as(Role.ADMIN)
    body = page(client, "/admin/mailbox")
    assert BANNER not in body
    for label in ("已发送", "已搁置", "待发送", "重新发送"):
        assert label in body
    assert "有 2 封邮件最近一次发送失败" in body
    assert "550 5.7.1 relaying denied" in body
    # newest first
    assert body.index("retry@zjj.example.gov.cn") < body.index("parked@zjj.example.gov.cn") \
        < body.index("sent@zjj.example.gov.cn")

    table = lambda text: text.split("mailbox-table", 1)[1]  # noqa: E731  (the list, not the failure banner)
    parked = table(page(client, "/admin/mailbox?status=parked"))
    assert "parked@zjj.example.gov.cn" in parked and "sent@zjj.example.gov.cn" not in parked
    assert "retry@zjj.example.gov.cn" not in parked
    sent = table(page(client, "/admin/mailbox?status=sent"))
    assert "sent@zjj.example.gov.cn" in sent and "parked@zjj.example.gov.cn" not in sent
    found = table(page(client, "/admin/mailbox?q=retry%40zjj"))
    assert "retry@zjj.example.gov.cn" in found and "sent@zjj.example.gov.cn" not in found
    assert "没有邮件。" in page(client, "/admin/mailbox?q=nobody-at-all")
    assert "sent@zjj.example.gov.cn" in page(client, "/admin/mailbox?status=bogus")   # unknown status: all


def test_the_detail_shows_both_bodies_safely(app, client, login_as):
    use_server(app, None)
    liaison = person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn", name="<b>王</b>")
    overdue_note(liaison, 1, subject="<script>alert('subject')</script> 3.4.1 逾期")
    build_digests(now=T0)
    row = outbox_rows()[0]
    assert "&lt;script&gt;" in row.html_body and "<script>" not in row.html_body   # escaped in the mail itself
    # and a hostile body stored by any other route is still never injected into the page
    row.html_body = row.html_body.replace("</body>", "<script>alert('html')</script><img src=x onerror=alert(1)></body>")
    row.text_body += "\n<script>alert('text')</script>"
    row.subject += "<script>alert('s')</script>"
    db.session.commit()

    login_as(Role.ADMIN)
    body = page(client, f"/admin/mailbox/{row.id}")
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(&#39;text&#39;)&lt;/script&gt;" in body          # the text body, escaped
    assert '<iframe class="w-100 border-0 mail-html"' in body
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in body      # no scripts; links open a tab
    srcdoc = body.split('srcdoc="', 1)[1].split('"', 1)[0]
    assert htmllib.unescape(srcdoc) == preview_html(row.html_body)               # the HTML body, as an attribute
    assert preview_html(row.html_body).replace(PREVIEW_BASE, "", 1) == row.html_body
    assert re.search(r"<head>\s*" + re.escape(PREVIEW_BASE), preview_html(row.html_body))
    assert "3.4.1" in body and "liaison@zjj.example.gov.cn" in body and row.message_id.strip("<>") in body
    assert "&lt;b&gt;王&lt;/b&gt;" in body
    listing = page(client, "/admin/mailbox")
    assert "<script>alert" not in listing and "&lt;script&gt;alert(" in listing


def test_the_admin_retries_a_parked_message_and_it_arrives_once(app, client, login_as, smtp):
    use_server(app, smtp.port, MAIL_MAX_ATTEMPTS=2)
    overdue_note(person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn"), 1)
    smtp.handler.refuse = "550 5.1.1 mailbox unavailable"
    deliver_pass(now=T0)
    send_due(now=T0 + timedelta(minutes=1))
    row = outbox_rows()[0]
    assert row.status == EmailStatus.PARKED

    admin = login_as(Role.ADMIN)
    detail = page(client, f"/admin/mailbox/{row.id}")
    assert "550 5.1.1 mailbox unavailable" in detail and "重新发送" in detail and "已搁置" in detail

    smtp.handler.refuse = None
    response = client.post(f"/admin/mailbox/{row.id}/retry", follow_redirects=True)
    assert response.status_code == 200
    assert "已放回发送队列" in response.get_data(as_text=True)
    row = outbox_rows()[0]
    assert row.status == EmailStatus.PENDING and row.attempts == 0
    assert db.session.scalar(select(AuditEvent.actor_id).where(AuditEvent.action == "outbox_retry")) == admin.id

    # a second click (a stale page) is an answer, not an error, and queues nothing twice
    again = client.post(f"/admin/mailbox/{row.id}/retry", follow_redirects=True)
    assert again.status_code == 200 and "只有已搁置的邮件可以重新发送" in again.get_data(as_text=True)

    assert deliver_pass(now=T0 + timedelta(hours=1))["sent"] == 1
    assert deliver_pass(now=T0 + timedelta(hours=1))["sent"] == 0
    assert len(smtp.received) == 1
    assert "已发送" in page(client, f"/admin/mailbox/{row.id}")


def test_bad_settings_never_break_a_web_request(app, client, login_as):
    use_server(app, free_port(), MAIL_MAX_ATTEMPTS=1)
    overdue_note(person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn"), 1)
    result = deliver_pass(now=T0)
    assert result["parked"] == 1
    login_as(Role.ADMIN)
    body = page(client, "/admin/mailbox")
    assert "连接邮件服务器失败" in body and "ConnectionRefusedError" in body
    email_id = outbox_rows()[0].id
    assert client.post(f"/admin/mailbox/{email_id}/retry").status_code == 302    # no sending inside the request
    assert "连接邮件服务器失败" in page(client, f"/admin/mailbox/{email_id}")

    app.config.update(MAIL_PORT="bogus", MAIL_TIMEOUT="soon", MAIL_USE_TLS="yes", MAIL_MAX_ATTEMPTS="many")
    assert "邮件服务器" in page(client, "/admin/mailbox")
    assert page(client, "/account/inbox")


def test_the_list_uses_a_bounded_number_of_queries(app, client, login_as):
    use_server(app, None)
    users = [person(Role.LIAISON, HOUSING, f"p{n}@zjj.example.gov.cn") for n in range(3)]

    def one_pass(n: int) -> None:
        for user in users:
            overdue_note(user, n, now=T0 + timedelta(minutes=n))
        build_digests(now=T0 + timedelta(minutes=n))

    one_pass(1)
    login_as(Role.ADMIN)
    few = count_queries(lambda: client.get("/admin/mailbox"))
    for n in range(2, 11):
        one_pass(n)
    assert len(outbox_rows()) == 30
    many = count_queries(lambda: client.get("/admin/mailbox"))
    assert many == few <= 12
