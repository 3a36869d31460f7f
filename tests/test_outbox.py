"""The email outbox against a real SMTP server in the test process (aiosmtpd on a loopback port): digests,
Chinese text, retries with backoff, parking, the admin's retry, and never a message twice."""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from models import AuditEvent, Notification, OutboxEmail, Role
from models.notify import EmailStatus
from tests.conftest import make_user
from tests.factories import published_fushun
from workflow import notify
from workflow.domain import Conflict, PermissionDenied
from workflow.extensions import db
from workflow.mail import digests
from workflow.mail.digests import build_digests
from workflow.mail.smtp import backoff, deliver_pass, retry_parked, send_due
from workflow.scheduling.reminders import run_reminders

HOUSING = "市住房城乡建设局"
T0 = datetime(2026, 4, 20, 1, 0, tzinfo=UTC)  # 2026-04-20 09:00 in Shanghai, eight working days after 2026Q1


# -- a real SMTP server ------------------------------------------------------------------------------------

class Collector:
    """An aiosmtpd handler keeping what it received; `refuse` (e.g. '550 …') rejects every recipient."""

    def __init__(self):
        self.received: list[dict] = []
        self.refuse: str | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "content": bytes(envelope.original_content or envelope.content)})
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(r["content"], policy=email.policy.default) for r in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.handler = Collector()
        self.controller: Controller | None = None

    def start(self) -> SMTPServer:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[dict]:
        return self.handler.received


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


def use_server(app, port: int | None, host: str = "127.0.0.1", **extra) -> None:
    """Point the app's mail settings at a server (port None: no MAIL_SERVER at all)."""
    app.config.update(MAIL_SERVER=host if port is not None else None, MAIL_PORT=port, MAIL_TIMEOUT=3,
                      MAIL_USE_TLS=False, MAIL_USE_SSL=False, MAIL_USERNAME=None, MAIL_PASSWORD=None,
                      MAIL_DEFAULT_SENDER="督办系统 <noreply@dubanxitong.example>", MAIL_MAX_ATTEMPTS=5,
                      PUBLIC_BASE_URL="https://duban.example.gov.cn/")
    app.config.update(extra)


# -- set-up helpers ----------------------------------------------------------------------------------------

def person(role: str, department: str | None, address: str | None, *, name: str = "",
           frequency: str = "pass"):
    user = make_user(role, department)
    user.email, user.display_name, user.digest_frequency = address, name, frequency
    db.session.commit()
    return user


def overdue_note(user, n: int, *, now: datetime = T0, days_late: int = 8, subject: str | None = None,
                 department: str = HOUSING):
    code = f"3.4.{n}"
    data = {"department": department, "task": code, "task_title": f"推进第{n}项工程", "period": "2026Q1",
            "period_label": "2026年第一季度", "deadline": "2026-04-08", "days_late": days_late,
            "what": "report", "link": f"/reports/{n}"}
    note = notify.queue(user, kind="overdue", level=1, key=f"overdue:r{n}:L1", now=now,
                        subject=subject or f"【逾期提醒】{department} {code} 2026年第一季度报告逾期未报送",
                        body="报送期限：2026-04-08。", link=f"/reports/{n}", data=data)
    db.session.commit()
    return note


def outbox_rows() -> list[OutboxEmail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


# -- digests -----------------------------------------------------------------------------------------------

def test_three_notifications_make_one_digest_in_chinese(app, smtp):
    use_server(app, smtp.port)
    liaison = person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn", name="王小明")
    notes = [overdue_note(liaison, n) for n in (1, 2, 3)]

    result = deliver_pass(now=T0)

    assert result == {"built": 1, "sent": 1, "failed": 0, "parked": 0, "pending": 0}
    assert len(smtp.received) == 1
    assert smtp.received[0]["to"] == ["liaison@zjj.example.gov.cn"]
    assert smtp.received[0]["from"] == "noreply@dubanxitong.example"
    msg = smtp.handler.messages()[0]
    assert msg["Subject"] == "【督办系统】您有 3 条待办提醒（市住房城乡建设局）"
    assert msg.get_content_type() == "multipart/alternative"
    assert "督办系统" in str(msg["From"]) and "王小明" in str(msg["To"])
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert text.startswith("王小明，您好：")
    assert "市住房城乡建设局有 3 条待办提醒" in text
    for n in (1, 2, 3):
        assert f"3.4.{n} 推进第{n}项工程" in text and f"3.4.{n} 推进第{n}项工程" in html
        assert f"https://duban.example.gov.cn/reports/{n}" in text
        assert f'href="https://duban.example.gov.cn/reports/{n}"' in html
    assert text.count("报送期：2026年第一季度") == 3
    assert text.count("截止日期：2026-04-08（已逾期 8 个工作日）") == 3
    assert "已逾期 8 个工作日" in html and "2026年第一季度" in html
    assert "https://duban.example.gov.cn/account/inbox" in text

    row = outbox_rows()[0]
    assert row.status == EmailStatus.SENT and row.sent_at == T0 and row.attempts == 0
    assert msg["Message-ID"].strip() == row.message_id and row.message_id.endswith("@dubanxitong.example>")
    assert [n.id for n in row.notifications] == [n.id for n in notes]
    assert db.session.get(type(liaison), liaison.id).last_digest_at == T0


def test_digests_from_a_reminder_pass_over_the_bundled_plan(app, smtp):
    use_server(app, smtp.port)
    plan, office = published_fushun()
    office.email, office.display_name = "office@duban.example.gov.cn", "督办科"
    head = person(Role.DEPT_HEAD, HOUSING, "head@zjj.example.gov.cn", name="李局长")
    db.session.commit()

    queued = run_reminders(now=T0)["queued"]
    assert any(q["recipient"] == head.username for q in queued)
    head_items = db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == head.id))

    result = deliver_pass(now=T0)

    assert result["built"] == 2 and result["sent"] == 2 and result["pending"] == 0
    by_to = {r["to"][0]: m for r, m in zip(smtp.received, smtp.handler.messages(), strict=True)}
    head_mail = by_to["head@zjj.example.gov.cn"]
    assert head_mail["Subject"] == f"【督办系统】您有 {head_items} 条待办提醒（市住房城乡建设局）"
    text = head_mail.get_body(("plain",)).get_content()
    assert text.startswith("李局长，您好：")
    assert "3.4.3" in text and "2026年第一季度" in text and "逾期 8 个工作日" in text and "【督办】" in text
    office_mail = by_to["office@duban.example.gov.cn"]
    assert "涉及" in office_mail["Subject"] and "个单位" in office_mail["Subject"]
    office_text = office_mail.get_body(("plain",)).get_content()
    office_items = db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == office.id))
    assert office_items > 100
    # a summary per department, items under department headings, at most 100 listed, the rest counted
    assert "  市住房城乡建设局：" in office_text and "\n【市发展改革委】\n" in office_text
    assert "\n100. " in office_text and "\n101. " not in office_text
    assert f"另有 {office_items - 100} 条提醒未在邮件中列出" in office_text
    # every notification of a recipient with an address went into exactly one email
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id.in_([head.id, office.id]), Notification.email_id.is_(None))) == 0

    # the next pass at the same moment builds and sends nothing new
    assert deliver_pass(now=T0) == {"built": 0, "sent": 0, "failed": 0, "parked": 0, "pending": 0}
    assert len(smtp.received) == 2


def test_a_daily_recipient_gets_at_most_one_digest_in_20_hours(app, smtp):
    use_server(app, smtp.port)
    daily = person(Role.LIAISON, HOUSING, "daily@zjj.example.gov.cn", frequency="daily")
    each = person(Role.LIAISON, HOUSING, "each@zjj.example.gov.cn")
    overdue_note(daily, 1)
    overdue_note(each, 1)
    assert deliver_pass(now=T0)["sent"] == 2

    later = T0 + timedelta(hours=2)
    overdue_note(daily, 2, now=later)
    overdue_note(each, 2, now=later)
    assert build_digests(now=later) == 1            # only the per-pass recipient
    assert build_digests(now=T0 + timedelta(hours=19, minutes=59)) == 0
    send_due(now=later)
    assert [r["to"] for r in smtp.received] == [["daily@zjj.example.gov.cn"], ["each@zjj.example.gov.cn"],
                                                ["each@zjj.example.gov.cn"]]

    overdue_note(daily, 3, now=later)
    assert deliver_pass(now=T0 + timedelta(hours=20))["sent"] == 1
    last = smtp.handler.messages()[-1]
    assert smtp.received[-1]["to"] == ["daily@zjj.example.gov.cn"]
    assert last["Subject"] == "【督办系统】您有 2 条待办提醒（市住房城乡建设局）"   # both items of the day
    text = last.get_body(("plain",)).get_content()
    assert "3.4.2" in text and "3.4.3" in text and "3.4.1" not in text


def test_inactive_users_and_users_without_an_address_get_no_mail(app, smtp):
    use_server(app, smtp.port)
    blank = person(Role.LIAISON, HOUSING, None)
    spaces = person(Role.LIAISON, HOUSING, "  ")
    gone = person(Role.LIAISON, HOUSING, "gone@zjj.example.gov.cn")
    gone.active = False
    db.session.commit()
    for user in (blank, spaces, gone):
        overdue_note(user, 1)
    assert deliver_pass(now=T0) == {"built": 0, "sent": 0, "failed": 0, "parked": 0, "pending": 0}
    assert smtp.received == [] and outbox_rows() == []


# -- failures, backoff, parking, retry ---------------------------------------------------------------------

def test_backoff_grows_then_stays():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 5, 15, 60)]
    assert backoff(9) == backoff(6) >= timedelta(hours=4)


def test_a_refusing_server_leads_to_retries_then_a_parked_message_then_one_delivery(app, smtp):
    use_server(app, smtp.port)
    admin = make_user(Role.ADMIN)
    liaison = person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn")
    overdue_note(liaison, 1)
    smtp.handler.refuse = "550 5.1.1 <liaison@zjj.example.gov.cn>: mailbox unavailable"

    assert deliver_pass(now=T0) == {"built": 1, "sent": 0, "failed": 1, "parked": 0, "pending": 1}
    row = outbox_rows()[0]
    message_id = row.message_id
    assert row.attempts == 1 and row.status == EmailStatus.PENDING
    assert row.next_attempt_at == T0 + timedelta(minutes=1)
    assert "550" in row.last_error and "mailbox unavailable" in row.last_error and "\n" not in row.last_error

    # not due yet: nothing is tried
    assert send_due(now=T0 + timedelta(seconds=30)) == {"sent": 0, "failed": 0, "parked": 0, "pending": 1}
    assert outbox_rows()[0].attempts == 1

    now = T0
    for attempt, wait in ((2, 5), (3, 15), (4, 60)):
        now = outbox_rows()[0].next_attempt_at
        assert send_due(now=now)["failed"] == 1
        row = outbox_rows()[0]
        assert row.attempts == attempt and row.next_attempt_at == now + timedelta(minutes=wait)

    now = outbox_rows()[0].next_attempt_at
    assert send_due(now=now) == {"sent": 0, "failed": 0, "parked": 1, "pending": 0}
    row = outbox_rows()[0]
    assert row.status == EmailStatus.PARKED and row.attempts == 5 and row.next_attempt_at is None
    assert send_due(now=now + timedelta(days=3))["parked"] == 0      # parked messages are left alone
    assert smtp.received == []

    # the server comes back; the admin retries; the message arrives exactly once, with its Message-ID
    smtp.handler.refuse = None
    with pytest.raises(PermissionDenied):
        retry_parked(row.id, actor=liaison, now=now)
    retry_parked(row.id, actor=admin, now=now + timedelta(hours=1))
    row = outbox_rows()[0]
    assert row.status == EmailStatus.PENDING and row.attempts == 0
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "outbox_retry")).one()
    assert (audit.actor_id, audit.object_id, audit.from_state, audit.to_state) == (admin.id, row.id, "parked",
                                                                                   "pending")
    with pytest.raises(Conflict):
        retry_parked(row.id, actor=admin, now=now)

    assert deliver_pass(now=now + timedelta(hours=1))["sent"] == 1
    assert deliver_pass(now=now + timedelta(hours=1))["sent"] == 0
    assert send_due(now=now + timedelta(days=1))["sent"] == 0
    assert len(smtp.received) == 1
    assert smtp.handler.messages()[0]["Message-ID"].strip() == message_id
    assert outbox_rows()[0].status == EmailStatus.SENT


def test_no_server_listening_parks_then_each_message_arrives_once_when_it_comes_back(app):
    server = SMTPServer()           # a free port with nothing listening yet
    use_server(app, server.port, MAIL_MAX_ATTEMPTS=2)
    admin = make_user(Role.ADMIN)
    a = person(Role.LIAISON, HOUSING, "a@zjj.example.gov.cn")
    b = person(Role.DEPT_HEAD, HOUSING, "b@zjj.example.gov.cn")
    overdue_note(a, 1)
    overdue_note(b, 1)

    assert deliver_pass(now=T0) == {"built": 2, "sent": 0, "failed": 2, "parked": 0, "pending": 2}
    rows = outbox_rows()
    assert all(r.attempts == 1 and r.next_attempt_at == T0 + timedelta(minutes=1) for r in rows)
    assert all("连接邮件服务器失败" in r.last_error and str(server.port) in r.last_error for r in rows)
    assert send_due(now=T0 + timedelta(minutes=1)) == {"sent": 0, "failed": 0, "parked": 2, "pending": 0}

    server.start()
    try:
        assert send_due(now=T0 + timedelta(hours=1))["sent"] == 0   # parked: waiting for the admin
        for row in outbox_rows():
            retry_parked(row.id, actor=admin, now=T0 + timedelta(hours=1))
        assert send_due(now=T0 + timedelta(hours=1)) == {"sent": 2, "failed": 0, "parked": 0, "pending": 0}
        assert send_due(now=T0 + timedelta(hours=2))["sent"] == 0
        assert sorted(r["to"][0] for r in server.received) == ["a@zjj.example.gov.cn", "b@zjj.example.gov.cn"]
    finally:
        server.stop()


def test_an_hour_without_the_mail_server_then_every_message_arrives_exactly_once(app):
    """The scheduler's outbox pass every minute, the SMTP server gone for the first hour (the default attempts
    and backoff), then back: every queued message is delivered once, none parked, none twice."""
    server = SMTPServer()
    use_server(app, server.port)
    people = [person(Role.LIAISON, HOUSING, f"l{i}@zjj.example.gov.cn") for i in range(3)]
    for i, p in enumerate(people, start=1):
        overdue_note(p, i)
    minute = timedelta(minutes=1)
    assert deliver_pass(now=T0)["failed"] == 3
    for m in range(1, 60):
        assert send_due(now=T0 + m * minute)["sent"] == 0
    assert all(r.status != "parked" for r in outbox_rows())
    server.start()
    try:
        for m in range(60, 180):
            send_due(now=T0 + m * minute)
        assert sorted(r["to"][0] for r in server.received) == sorted(p.email for p in people)
        assert all(r.status == "sent" for r in outbox_rows())
    finally:
        server.stop()


def test_a_broken_connection_stops_the_batch_instead_of_hammering(app):
    """A server that accepts and hangs up at once: one connection attempt, one failed attempt per message."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        use_server(app, listener.getsockname()[1])
        for n in range(3):
            overdue_note(person(Role.LIAISON, HOUSING, f"p{n}@zjj.example.gov.cn"), 1)
        assert deliver_pass(now=T0) == {"built": 3, "sent": 0, "failed": 3, "parked": 0, "pending": 3}
        assert len(accepted) == 1
        assert all(r.attempts == 1 and r.last_error for r in outbox_rows())
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_one_refused_recipient_does_not_hold_up_the_others(app, smtp):
    use_server(app, smtp.port)

    refused = "nobody@zjj.example.gov.cn"

    async def handle_rcpt(server, session, envelope, address, rcpt_options):
        if address == refused:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.handler.handle_RCPT = handle_rcpt
    overdue_note(person(Role.LIAISON, HOUSING, refused), 1)
    overdue_note(person(Role.DEPT_HEAD, HOUSING, "head@zjj.example.gov.cn"), 1)
    assert deliver_pass(now=T0) == {"built": 2, "sent": 1, "failed": 1, "parked": 0, "pending": 1}
    assert [r["to"] for r in smtp.received] == [["head@zjj.example.gov.cn"]]
    failed = [r for r in outbox_rows() if r.status == EmailStatus.PENDING][0]
    assert failed.to_address == refused and "no such user" in failed.last_error


# -- never twice ---------------------------------------------------------------------------------------------

def test_sending_twice_at_the_same_moment_sends_nothing_new(app, smtp):
    use_server(app, smtp.port)
    for n in range(2):
        overdue_note(person(Role.LIAISON, HOUSING, f"p{n}@zjj.example.gov.cn"), 1)
    first = deliver_pass(now=T0)
    second = deliver_pass(now=T0)
    assert first["sent"] == 2 and second == {"built": 0, "sent": 0, "failed": 0, "parked": 0, "pending": 0}
    assert len(smtp.received) == 2


def test_a_crash_mid_batch_never_sends_a_message_twice(app, smtp):
    use_server(app, smtp.port)
    for n in range(3):
        overdue_note(person(Role.LIAISON, HOUSING, f"p{n}@zjj.example.gov.cn"), 1)
    assert build_digests(now=T0) == 3
    first, second, third = outbox_rows()
    # the first one went out and was committed before the process died; the second was being sent
    # (claimed) when it died
    first.status, first.sent_at = EmailStatus.SENT, T0
    db.session.commit()
    second_claimed_until = T0 + timedelta(minutes=15)
    second.next_attempt_at = second_claimed_until
    db.session.commit()

    assert send_due(now=T0 + timedelta(minutes=1)) == {"sent": 1, "failed": 0, "parked": 0, "pending": 1}
    assert [r["to"] for r in smtp.received] == [[third.to_address]]
    assert send_due(now=second_claimed_until)["sent"] == 1
    assert send_due(now=second_claimed_until + timedelta(hours=1))["sent"] == 0
    assert sorted(r["to"][0] for r in smtp.received) == sorted([second.to_address, third.to_address])


def test_a_second_builder_finds_the_notifications_taken(app, monkeypatch):
    """build_digests links notifications with a conditional UPDATE: when another builder (another process)
    takes them between the gathering and the linking, this one adds no duplicate email."""
    use_server(app, None)
    liaison = person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn")
    overdue_note(liaison, 1)
    real_render = digests.render_digest

    def render_while_another_builder_wins(user, items, *, now):
        with db.engine.begin() as other:     # a separate connection and transaction
            inserted = other.execute(OutboxEmail.__table__.insert().values(
                user_id=user.id, to_address=user.email, subject="other", text_body="", html_body="",
                created_at=now, status="pending", attempts=0, last_error="", message_id="<x@y>"))
            email_id = inserted.inserted_primary_key[0]
            other.execute(Notification.__table__.update().values(email_id=email_id))
        return real_render(user, items, now=now)

    monkeypatch.setattr(digests, "render_digest", render_while_another_builder_wins)
    assert build_digests(now=T0) == 0
    rows = outbox_rows()
    assert [r.subject for r in rows] == ["other"]
    assert db.session.get(type(liaison), liaison.id).last_digest_at is None


# -- without a server, and with bad settings ----------------------------------------------------------------

def test_without_mail_server_nothing_leaves_the_machine(app, smtp):
    use_server(app, None)
    overdue_note(person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn"), 1)
    assert deliver_pass(now=T0) == {"built": 1, "sent": 0, "failed": 0, "parked": 0, "pending": 1}
    assert deliver_pass(now=T0 + timedelta(days=1)) == {"built": 0, "sent": 0, "failed": 0, "parked": 0,
                                                         "pending": 1}
    row = outbox_rows()[0]
    assert row.status == EmailStatus.PENDING and row.attempts == 0 and row.last_error == ""
    assert smtp.received == []


@pytest.mark.parametrize("settings", [
    {"MAIL_USE_SSL": True},                 # TLS handshake against a plain server
    {"MAIL_USE_TLS": True},                 # STARTTLS not offered
    {"MAIL_USERNAME": "u", "MAIL_PASSWORD": "p"},   # AUTH not offered
    {"MAIL_PORT": "not-a-port"},            # falls back to port 25: nothing listens there
    {"MAIL_SERVER": "no-such-host.invalid"},
], ids=["ssl", "starttls", "auth", "port", "host"])
def test_bad_settings_are_recorded_never_raised(app, smtp, settings):
    use_server(app, smtp.port, **settings)
    overdue_note(person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn"), 1)
    result = deliver_pass(now=T0)
    assert result["sent"] == 0 and result["failed"] == 1
    row = outbox_rows()[0]
    assert row.status == EmailStatus.PENDING and row.attempts == 1 and row.last_error
    assert smtp.received == []


def test_bad_settings_on_a_closed_port_never_raise(app):
    use_server(app, free_port())
    overdue_note(person(Role.LIAISON, HOUSING, "liaison@zjj.example.gov.cn"), 1)
    for minutes in (0, 1, 6, 21, 81):
        deliver_pass(now=T0 + timedelta(minutes=minutes))
    row = outbox_rows()[0]
    assert row.status == EmailStatus.PARKED and row.attempts == 5
    assert "ConnectionRefusedError" in row.last_error
