"""Reminders through the other channels against a local HTTP server in the test process (loopback only) that
plays the SMS gateway and the DingTalk / WeCom group robots: a reminder pass reaches a person by SMS and a
department's group exactly once, across a gateway that fails (500, a timeout) and recovers; a gateway that
keeps failing parks the message; DingTalk's signing; the short texts; who is routed where."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Channel, Department, Notification, OutboxEmail, Role
from models.notify import EmailStatus
from tests.conftest import count_queries, make_user
from tests.factories import published_fushun
from workflow import notify
from workflow.config import SMS_MAX_CHARS, channel_settings
from workflow.extensions import db
from workflow.mail.channels import fit, route_for, short_text, sms_text
from workflow.mail.digests import build_digests
from workflow.mail.smtp import deliver_pass, retry_parked, send_due
from workflow.scheduling.reminders import run_reminders

HOUSING = "市住房城乡建设局"
TRANSPORT = "市交通运输局"
# 2026-04-13 09:00 in Shanghai: three working days after the 2026Q1 deadline (04-08), the level-2 stage, when a
# reminder goes to the department head and the liaisons alike.
T0 = datetime(2026, 4, 13, 1, 0, tzinfo=UTC)
SECRET = "SECtest-signing-secret"


# -- a local gateway and robot endpoint ---------------------------------------------------------------------------

class Gateway:
    """An HTTP server on 127.0.0.1 answering every POST by the next scripted behaviour: "ok" (the default once
    the script is used up), "500", "timeout" (answers only after the client gave up) or "errcode" (200 with a
    robot's error). `accepted` holds the requests it answered with success: what was delivered."""

    def __init__(self):
        self.script: list[str] = []
        self.requests: list[dict] = []
        self.accepted: list[dict] = []
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                seen = {"path": parts.path, "query": parse_qs(parts.query), "headers": dict(self.headers),
                        "json": json.loads(body.decode())}
                with gateway.lock:
                    gateway.requests.append(seen)
                    action = gateway.script.pop(0) if gateway.script else "ok"
                if action == "timeout":
                    time.sleep(1.0)
                    return
                if action == "500":
                    self._answer(500, {"message": "gateway overloaded"})
                elif action == "errcode":
                    self._answer(200, {"errcode": 310000, "errmsg": "sign not match"})
                else:
                    with gateway.lock:
                        gateway.accepted.append(seen)
                    self._answer(200, {"errcode": 0, "errmsg": "ok"})

            def _answer(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def accepted_at(self, path: str) -> list[dict]:
        return [r for r in self.accepted if r["path"] == path]


@pytest.fixture
def gateway(app):
    server = Gateway()
    server.thread.start()
    app.config.update(SMS_GATEWAY_URL=f"{server.base}/sms", SMS_GATEWAY_KEY="sms-key-1", CHANNEL_TIMEOUT=0.4,
                      SMS_TEMPLATE="【督办系统】{text}", MAIL_MAX_ATTEMPTS=5, MAIL_SERVER=None,
                      PUBLIC_BASE_URL="https://duban.example.gov.cn")
    yield server
    server.server.shutdown()
    server.server.server_close()


def robot_department(name: str, gateway: Gateway, channel: str = Channel.DINGTALK, secret: str = "") -> Department:
    dept = Department.lookup(name)
    dept.default_channel = channel
    if channel == Channel.DINGTALK:
        dept.dingtalk_webhook, dept.dingtalk_secret = f"{gateway.base}/robot/send?access_token=tok-{dept.id}", secret
    else:
        dept.wecom_webhook = f"{gateway.base}/cgi-bin/webhook/send?key=key-{dept.id}"
    db.session.commit()
    return dept


def person(role: str, department: str | None, *, channel: str = "", phone: str | None = None,
           email: str | None = None):
    user = make_user(role, department)
    user.channel, user.phone, user.email = channel, phone, email
    db.session.commit()
    return user


def rows(channel: str | None = None) -> list[OutboxEmail]:
    db.session.expire_all()
    q = select(OutboxEmail).order_by(OutboxEmail.id)
    return list(db.session.scalars(q.where(OutboxEmail.channel == channel) if channel else q))


@pytest.fixture
def world(app, gateway):
    """The bundled plan published; 市住房城乡建设局 on its DingTalk group robot (signed) with a liaison and a head
    who keep the department's default; a 市交通运输局 liaison who chose SMS."""
    plan, office = published_fushun()
    housing = robot_department(HOUSING, gateway, secret=SECRET)
    liaison = person(Role.LIAISON, HOUSING, phone="13800000001")
    head = person(Role.DEPT_HEAD, HOUSING, phone="13800000002", email="head@zjj.example.gov.cn")
    sms_user = person(Role.LIAISON, TRANSPORT, channel=Channel.SMS, phone="13900000003",
                      email="jt@jtj.example.gov.cn")
    return {"plan": plan, "office": office, "housing": housing, "liaison": liaison, "head": head, "sms": sms_user}


# -- acceptance: a reminder pass, delivered exactly once -------------------------------------------------------------

def test_a_reminder_pass_reaches_an_sms_user_and_a_department_robot_exactly_once(world, gateway):
    queued = run_reminders(now=T0)["queued"]
    assert {q["level"] for q in queued if q["recipient"] == world["head"].username} == {2}
    housing_notes = db.session.scalars(select(Notification).where(
        Notification.user_id.in_([world["liaison"].id, world["head"].id]))).all()
    items = {n.key.rsplit(":u", 1)[0] for n in housing_notes}
    assert len(housing_notes) == 2 * len(items) > 0         # both were reminded of every item
    assert any(q["recipient"] == world["sms"].username for q in queued)

    result = deliver_pass(now=T0)

    # one post to the department's group (the head and the liaison share it), one SMS, nothing by email
    assert result == {"built": 2, "sent": 2, "failed": 0, "parked": 0, "pending": 0}
    (post,) = gateway.accepted_at("/robot/send")
    (sms,) = gateway.accepted_at("/sms")
    content = post["json"]["text"]["content"]
    assert post["json"]["msgtype"] == "text"
    assert content.startswith(f"【督办系统】市住房城乡建设局：{len(items)} 条待办提醒\n1. ")
    # every item once, never twice for two people: the lines listed and the rest counted (within 2048 bytes)
    lines = [line for line in content.splitlines() if line[:1].isdigit()]
    rest = re.search(r"另有 (\d+) 条", content)
    assert len(lines) + (int(rest.group(1)) if rest else 0) == len(items)
    assert len(set(lines)) == len(lines) and len(content.encode()) <= 2048
    assert all(HOUSING not in line for line in lines)        # the group's own name is not repeated on each line
    assert post["json"]["at"] == {"atMobiles": ["13800000001", "13800000002"], "isAtAll": False}
    assert "@13800000001 @13800000002" in content and "https://duban.example.gov.cn/account/inbox" in content
    assert post["query"]["access_token"] == [f"tok-{world['housing'].id}"]
    # DingTalk's 加签: the signature over the timestamp it sent, with the secret
    stamp = post["query"]["timestamp"][0]
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest())
    assert post["query"]["sign"] == [expected.decode()] and int(stamp) == int(T0.timestamp() * 1000)

    assert sms["json"]["mobile"] == "13900000003" and sms["headers"]["Authorization"] == "Bearer sms-key-1"
    text = sms["json"]["content"]
    transport_items = db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == world["sms"].id))
    assert text.startswith(f"【督办系统】您有 {transport_items} 条待办提醒，详见系统消息。其中：3.")
    assert len(text) <= SMS_MAX_CHARS and "市交通运输局" not in text   # the reader's own department is not named
    assert sms["headers"]["Idempotency-Key"] == rows(Channel.SMS)[0].key

    # the rows: one per channel and recipient, sent; every notification of the three delivered by exactly one
    robot_row, sms_row = rows(Channel.DINGTALK)[0], rows(Channel.SMS)[0]
    assert robot_row.status == sms_row.status == EmailStatus.SENT and rows(Channel.EMAIL) == []
    assert robot_row.key.startswith(f"dingtalk:d{world['housing'].id}:") and robot_row.to_address == HOUSING
    assert sms_row.key.startswith(f"sms:u{world['sms'].id}:") and sms_row.to_address == "13900000003"
    people = [world["liaison"].id, world["head"].id, world["sms"].id]
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id.in_(people), Notification.email_id.is_(None))) == 0

    # the next delivery pass, and another reminder pass at the same moment, send nothing more
    assert deliver_pass(now=T0)["built"] == 0
    assert run_reminders(now=T0)["queued"] == []
    assert deliver_pass(now=T0 + timedelta(minutes=5)) == {"built": 0, "sent": 0, "failed": 0, "parked": 0,
                                                           "pending": 0}
    assert len(gateway.accepted) == 2 and len(gateway.requests) == 2


def test_a_later_reminder_of_the_same_item_for_another_person_is_not_posted_to_the_group_again(world, gateway):
    run_reminders(now=T0)
    deliver_pass(now=T0)
    (first,) = gateway.accepted_at("/robot/send")
    # A second liaison joins and is reminded of the same items (new notifications, keys of its own)
    newcomer = person(Role.LIAISON, HOUSING)
    for note in db.session.scalars(select(Notification).where(Notification.user_id == world["liaison"].id)):
        notify.queue(newcomer, kind=note.kind, level=note.level, key=note.key.rsplit(":u", 1)[0], now=T0,
                     subject=note.subject, data=note.data)
    db.session.commit()

    assert deliver_pass(now=T0 + timedelta(hours=1))["built"] == 0
    assert gateway.accepted_at("/robot/send") == [first]
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == newcomer.id, Notification.email_id == rows(Channel.DINGTALK)[0].id)) > 0


def test_a_failing_gateway_that_recovers_delivers_once(world, gateway):
    """500, then no answer in time, then a 200 with a robot's error code: each is a failed attempt, retried
    after the backoff; once it answers, the message arrives exactly once."""
    run_reminders(now=T0)
    gateway.script = ["500", "500", "timeout", "timeout", "errcode", "errcode"]   # the robot and the SMS, in turn

    first = deliver_pass(now=T0)
    assert (first["built"], first["sent"], first["failed"], first["pending"]) == (2, 0, 2, 2)
    robot_row, sms_row = rows(Channel.DINGTALK)[0], rows(Channel.SMS)[0]
    assert sms_row.attempts == 1 and "HTTP 500" in sms_row.last_error
    assert "HTTP 500" in robot_row.last_error and "gateway overloaded" in robot_row.last_error
    assert "tok-" not in robot_row.last_error       # the robot's token never lands in an error text
    assert robot_row.next_attempt_at == T0 + timedelta(minutes=1) and robot_row.attempts == 1

    # not due yet: nothing is tried
    assert send_due(now=T0 + timedelta(seconds=30)) == {"sent": 0, "failed": 0, "parked": 0, "pending": 2}
    second = send_due(now=T0 + timedelta(minutes=1))
    assert second["failed"] == 2
    assert "没有答复" in rows(Channel.DINGTALK)[0].last_error
    third = send_due(now=T0 + timedelta(minutes=6))
    assert third["failed"] == 2 and "310000" in rows(Channel.SMS)[0].last_error
    fourth = send_due(now=T0 + timedelta(minutes=21))
    assert fourth == {"sent": 2, "failed": 0, "parked": 0, "pending": 0}
    assert len(gateway.accepted_at("/robot/send")) == 1 and len(gateway.accepted_at("/sms")) == 1
    assert [r.status for r in rows()] == [EmailStatus.SENT, EmailStatus.SENT]
    assert [r.attempts for r in rows()] == [3, 3]
    assert send_due(now=T0 + timedelta(days=1))["sent"] == 0
    assert len(gateway.accepted) == 2


def test_a_gateway_that_does_not_answer_costs_one_timeout_per_pass(app, gateway):
    """Three SMS users, the gateway silent: the first attempt times out, the others of the pass are failed at
    once without waiting (and retried later)."""
    users = [person(Role.OFFICE, None, channel=Channel.SMS, phone=f"1370000000{n}") for n in range(3)]
    for user in users:
        notify.queue(user, kind="review_pending", key="review_pending:r1:x", now=T0, subject="【待审核】报告待审核")
    db.session.commit()
    gateway.script = ["timeout"] * 3
    started = time.monotonic()
    assert deliver_pass(now=T0)["failed"] == 3
    assert time.monotonic() - started < 1.5 and len(gateway.requests) == 1
    assert len({r.last_error for r in rows(Channel.SMS)}) == 1


def test_a_gateway_that_keeps_failing_parks_the_message_for_the_admin(world, gateway, app):
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    world["housing"].default_channel = Channel.EMAIL      # only the SMS user now
    db.session.commit()
    run_reminders(now=T0)
    gateway.script = ["500"] * 10
    now = T0
    outcomes = []
    for _ in range(3):
        result = deliver_pass(now=now)
        outcomes.append((result["failed"], result["parked"]))
        now += timedelta(hours=1)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    (row,) = rows(Channel.SMS)
    assert row.status == EmailStatus.PARKED and row.attempts == 3 and row.next_attempt_at is None
    assert send_due(now=now + timedelta(days=2))["sent"] == 0 and gateway.accepted == []

    # the admin puts it back once the gateway works again: it arrives once
    admin = make_user(Role.ADMIN)
    gateway.script = []
    retry_parked(row.id, actor=admin, now=now)
    assert send_due(now=now)["sent"] == 1 and send_due(now=now + timedelta(hours=1))["sent"] == 0
    assert len(gateway.accepted_at("/sms")) == 1


def test_a_wecom_group_gets_its_documented_format(app, gateway):
    published_fushun()
    dept = robot_department(TRANSPORT, gateway, channel=Channel.WECOM)
    person(Role.LIAISON, TRANSPORT, phone="13600000006")
    run_reminders(now=T0)
    assert deliver_pass(now=T0)["sent"] == 1
    (post,) = gateway.accepted_at("/cgi-bin/webhook/send")
    assert post["query"]["key"] == [f"key-{dept.id}"]
    assert set(post["json"]) == {"msgtype", "text"} and post["json"]["msgtype"] == "text"
    assert post["json"]["text"]["mentioned_mobile_list"] == ["13600000006"]
    assert post["json"]["text"]["content"].startswith("【督办系统】市交通运输局：")
    assert len(post["json"]["text"]["content"].encode()) <= 2048


def test_a_robot_removed_after_the_post_was_built_is_a_failure_not_a_crash(world, gateway):
    run_reminders(now=T0)
    assert build_digests(now=T0) == 2
    world["housing"].dingtalk_webhook = ""
    db.session.commit()
    assert send_due(now=T0) == {"sent": 1, "failed": 1, "parked": 0, "pending": 1}
    (robot,) = rows(Channel.DINGTALK)
    assert robot.status == EmailStatus.PENDING and robot.last_error == "市住房城乡建设局未设置钉钉群机器人地址。"
    assert gateway.accepted_at("/robot/send") == []


# -- routing and texts ----------------------------------------------------------------------------------------------

def test_who_is_routed_where(app, gateway):
    published_fushun()
    settings = channel_settings()
    robot_department(HOUSING, gateway)
    inherit = person(Role.LIAISON, HOUSING, email="a@x.gov.cn")
    own_mail = person(Role.LIAISON, HOUSING, channel=Channel.EMAIL, email="b@x.gov.cn")
    sms_without_phone = person(Role.LIAISON, TRANSPORT, channel=Channel.SMS, email="c@x.gov.cn")
    robot_without_webhook = person(Role.LIAISON, TRANSPORT, channel=Channel.WECOM)
    office = person(Role.OFFICE, None, channel=Channel.SMS, phone="13800000009")

    assert route_for(inherit, settings).channel == Channel.DINGTALK
    assert route_for(own_mail, settings).address == "b@x.gov.cn"
    assert route_for(sms_without_phone, settings).channel == Channel.EMAIL          # falls back to email
    assert route_for(robot_without_webhook, settings) is None                          # the inbox only
    assert route_for(office, settings).address == "13800000009"
    app.config["SMS_GATEWAY_URL"] = None                                               # no gateway any more
    assert route_for(office, channel_settings()) is None


def test_every_sms_fits_one_segment(app, gateway):
    published_fushun()
    user = person(Role.LIAISON, HOUSING, channel=Channel.SMS, phone="13800000001")
    long_name = "市住房和城乡建设局城市更新与既有建筑节能改造专项工作领导小组办公室"
    data = {"department": long_name, "task": "3.4.10", "period_label": "2026年第一季度", "deadline": "2026-04-08",
            "days_late": 12, "what": "contribution", "period": "2026Q1"}
    notes = [notify.queue(user, kind=kind, level=level, key=f"{kind}:c{n}", now=T0, subject="长标题" * 40, data=data)
             for n, (kind, level) in enumerate([("overdue", 1), ("escalation", 3), ("due_soon", 0),
                                                 ("assignment.published", 0)])]
    db.session.commit()
    settings = channel_settings()
    for note in notes:
        text = sms_text([note], settings)
        assert len(text) <= SMS_MAX_CHARS and text.startswith("【督办系统】"), text
    assert short_text(notes[0]).startswith(long_name) and "配合情况已逾期 12 个工作日" in short_text(notes[0])
    assert "04-08 截止" in short_text(notes[2])
    several = sms_text(notes, settings)
    assert len(several) <= SMS_MAX_CHARS and several.startswith("【督办系统】您有 4 条待办提醒，详见系统消息。其中：")
    assert several.endswith("…")          # the most pressing one (督办) comes first, shortened to fit
    assert fit("【督办系统】{text}", "短" * 10, 70) == "【督办系统】" + "短" * 10
    assert fit("【督办系统】{text}", "长" * 100, 70) == "【督办系统】" + "长" * 63 + "…"


# -- the settings pages -------------------------------------------------------------------------------------------

def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return unescape(response.get_data(as_text=True))


def test_a_liaison_chooses_sms_with_a_mobile_number(client, login_as, gateway):
    published_fushun()
    user = login_as(Role.LIAISON, HOUSING)
    html = page(client, "/settings/notifications")
    assert "按单位默认（邮件）" in html and 'value="sms"' in html and 'value="dingtalk"' not in html
    assert "仅站内消息" in html                           # no address yet

    bad = client.post("/settings/notifications", data={"channel": "sms", "phone": "1380000", "digest_frequency": "pass",
                                                       "email": "li@x.gov.cn"})
    text = unescape(bad.get_data(as_text=True))
    assert bad.status_code == 422 and "手机号码应为 11 位数字" in text and 'value="1380000"' in text
    assert 'value="li@x.gov.cn"' in text
    missing = client.post("/settings/notifications", data={"channel": "sms", "phone": "", "digest_frequency": "pass"})
    assert missing.status_code == 422 and "选择短信提醒须填写手机号码" in unescape(missing.get_data(as_text=True))
    db.session.expire_all()
    assert (user.channel, user.phone, user.email) == ("", None, None)

    ok = client.post("/settings/notifications", data={"channel": "sms", "phone": "+86 138-0000-0001",
                                                      "digest_frequency": "pass", "email": ""})
    assert ok.status_code == 302
    db.session.expire_all()
    assert (user.channel, user.phone) == (Channel.SMS, "13800000001")
    html = page(client, "/settings/notifications")
    assert "目前：短信（13800000001）" in re.sub(r"<[^>]+>|\s+", "", html)
    assert re.search(r'<input checked[^>]*value="sms"', html)

    # a group robot the department does not have is not offered, and refused when posted anyway
    refused = client.post("/settings/notifications", data={"channel": "wecom", "digest_frequency": "pass",
                                                           "phone": "13800000001"})
    assert refused.status_code == 422 and "本单位尚未设置企业微信群机器人" in unescape(refused.get_data(as_text=True))
    # without an SMS gateway nobody can choose SMS
    client.application.config["SMS_GATEWAY_URL"] = None
    assert 'value="sms"' not in page(client, "/settings/notifications")
    no_gateway = client.post("/settings/notifications", data={"channel": "sms", "digest_frequency": "pass",
                                                              "phone": "13800000001"})
    assert no_gateway.status_code == 422 and "尚未配置短信网关" in unescape(no_gateway.get_data(as_text=True))


def test_the_office_sets_a_departments_robot_and_a_bad_url_is_a_field_error(client, login_as, gateway):
    published_fushun()
    housing = Department.lookup(HOUSING)
    login_as(Role.OFFICE)
    listing = page(client, "/settings/departments")
    assert HOUSING in listing and f"/settings/departments/{housing.id}" in listing
    url = f"/settings/departments/{housing.id}"

    for webhook in ("ftp://oapi.dingtalk.com/robot/send?access_token=1", "oapi.dingtalk.com/robot/send",
                    "javascript:alert(1)", "https://"):
        bad = client.post(url, data={"default_channel": "dingtalk", "dingtalk_webhook": webhook,
                                     "dingtalk_secret": "SECabc", "wecom_webhook": ""})
        text = unescape(bad.get_data(as_text=True))
        assert bad.status_code == 422, webhook
        assert "机器人地址应以 http:// 或 https:// 开头" in text and f'value="{webhook}"' in text, webhook
        assert 'value="SECabc"' in text          # what was typed comes back, the secret too
        db.session.expire_all()
        assert (housing.default_channel, housing.dingtalk_webhook, housing.dingtalk_secret) == ("email", "", "")

    no_webhook = client.post(url, data={"default_channel": "wecom", "dingtalk_webhook": "", "wecom_webhook": ""})
    assert no_webhook.status_code == 422 and "须填写它的地址" in unescape(no_webhook.get_data(as_text=True))

    webhook = f"{gateway.base}/robot/send?access_token=abc"
    assert client.post(url, data={"default_channel": "dingtalk", "dingtalk_webhook": webhook,
                                  "dingtalk_secret": "SECabc", "wecom_webhook": ""}).status_code == 302
    db.session.expire_all()
    assert (housing.default_channel, housing.dingtalk_webhook, housing.dingtalk_secret) == ("dingtalk", webhook,
                                                                                          "SECabc")
    form = page(client, url)
    assert "SECabc" not in form and "已保存加签密钥" in form            # the secret is never shown again
    # saving again with a blank secret keeps it; ticking 清除 removes it
    client.post(url, data={"default_channel": "dingtalk", "dingtalk_webhook": webhook, "dingtalk_secret": ""})
    db.session.expire_all()
    assert housing.dingtalk_secret == "SECabc"
    client.post(url, data={"default_channel": "dingtalk", "dingtalk_webhook": webhook, "clear_secret": "y"})
    db.session.expire_all()
    assert housing.dingtalk_secret == ""
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "department.channels")).all()
    assert len(audit) == 3 and all("SECabc" not in json.dumps(a.data, ensure_ascii=False) for a in audit)

    # the department's people now see the robot as their default and may choose it
    login_as(Role.LIAISON, HOUSING)
    html = page(client, "/settings/notifications")
    assert "按单位默认（钉钉群机器人）" in html and 'value="dingtalk"' in html


def test_only_the_office_and_the_admin_set_department_channels(client, login_as, gateway):
    published_fushun()
    housing = Department.lookup(HOUSING)
    for role, status in ((Role.LIAISON, 403), (Role.DEPT_HEAD, 403), (Role.LEADER, 403), (Role.ADMIN, 200)):
        login_as(role, HOUSING if role in (Role.LIAISON, Role.DEPT_HEAD) else None)
        assert client.get(f"/settings/departments/{housing.id}").status_code == status, role
    assert "提醒渠道" in page(client, "/admin/departments")        # linked from the admin's department page


def test_the_department_list_runs_a_bounded_number_of_queries(client, login_as, gateway):
    login_as(Role.OFFICE)
    for n in range(3):
        db.session.add(Department(name=f"市甲{n}局"))
    db.session.commit()
    few = count_queries(lambda: client.get("/settings/departments"))
    for n in range(30):
        db.session.add(Department(name=f"市乙{n}局", dingtalk_webhook="https://oapi.dingtalk.com/robot/send"))
    db.session.commit()
    assert count_queries(lambda: client.get("/settings/departments")) == few


def test_the_admin_mailbox_shows_and_filters_the_channel(world, gateway, client, login_as):
    run_reminders(now=T0)
    gateway.script = ["500"]
    deliver_pass(now=T0)
    login_as(Role.ADMIN)
    html = page(client, "/admin/mailbox")
    table = html.split("mailbox-table", 1)[1]
    assert "钉钉群机器人" in table and "短信" in table and "13900000003" in table and HOUSING in table
    assert "短信网关：127.0.0.1" in html
    only_sms = page(client, "/admin/mailbox?channel=sms").split("mailbox-table", 1)[1]
    assert "13900000003" in only_sms and "钉钉群机器人" not in only_sms
    robot = rows(Channel.DINGTALK)[0]
    detail = page(client, f"/admin/mailbox/{robot.id}")
    assert "市住房城乡建设局工作群" in detail and "13800000001" in detail and "HTML 正文" not in detail
    assert robot.text_body.splitlines()[0] in detail
    assert "access_token" not in detail
