"""Reminders beyond email: where each person's reminders go, their short texts, and the senders of the other
channels (SMS through an HTTP gateway, DingTalk and WeCom group robots).

Every channel uses the same outbox rows (models.OutboxEmail with its `channel`): `workflow.mail.digests`
gathers a recipient's unsent notifications into one row per channel and recipient (a robot's recipient is its
department's group, so two of its people reminded of the same item make one line), and
`workflow.mail.smtp.send_due` delivers every due row through its channel's `Sender`, with the same retries,
backoff, parking and the admin's retry as email.

Who gets what (`route_for`): the user's own channel, else the department's default, else email. A channel that
cannot reach the user falls back to email (no mobile number, no SMS gateway configured, no robot webhook on
the department), and without an address either the reminder stays in the in-app inbox only.

Texts are short: each notification kind has a one-line text (`SHORT_TEXTS`), and an SMS is at most
SMS_MAX_CHARS (70) characters, signature included (SMS_TEMPLATE, "【督办系统】{text}"), one SMS segment.

The senders POST JSON over HTTP(S) with a timeout (CHANNEL_TIMEOUT), follow no redirect, and treat as failed an
answer that is not 2xx or whose JSON carries a non-zero `errcode` (the robots' convention) or `code`. A host
that does not answer (refused, timed out) is not tried again in the same pass, so a dead gateway costs one
timeout, not one per message. Error texts name the host and path, never the query (the robots' tokens).
(A `code` of 0, 200, "OK" or "success" counts as success: gateways differ in which they send.)
- SMS: POST SMS_GATEWAY_URL {"mobile", "content"}, `Authorization: Bearer SMS_GATEWAY_KEY` when a key is
  set, and `Idempotency-Key` (the row's key) so a gateway can drop a retry of a message it did get.
- DingTalk (钉钉自定义机器人): {"msgtype": "text", "text": {"content"}, "at": {"atMobiles", "isAtAll"}}; with a
  signing secret (加签) the URL gets `timestamp` (ms) and `sign` = base64(HMAC-SHA256(secret,
  "timestamp\\nsecret")). Its "custom keyword" security setting must allow "督办" (every text starts with it).
- WeCom (企业微信群机器人): {"msgtype": "text", "text": {"content", "mentioned_mobile_list"}}; at most 2048
  bytes of content, which the texts here stay under.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPException
from urllib.parse import quote_plus, urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models import Channel, Department, Notification, OutboxEmail, User
from models.org import ROBOT_CHANNELS
from workflow.config import SMS_MAX_CHARS, ChannelSettings
from workflow.labels import chinese_label, label

ROBOT_MAX_BYTES = 2000      # WeCom takes 2048 bytes of text; DingTalk more
ERROR_LENGTH = 500


# -- who gets what where --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    """One recipient on one channel: a mail address, a mobile number, or a department's group robot."""

    channel: str
    address: str
    department: Department | None = None


def chosen_channel(user: User) -> str:
    """The user's own choice, else the department's default, else email."""
    if user.channel:
        return user.channel
    if user.department is not None and user.department.default_channel:
        return user.department.default_channel
    return Channel.EMAIL


def route_for(user: User, settings: ChannelSettings) -> Route | None:
    """Where the user's reminders go now; None when nowhere but the in-app inbox."""
    channel = chosen_channel(user)
    if channel == Channel.SMS and (user.phone or "").strip() and settings.sms_configured:
        return Route(Channel.SMS, user.phone.strip())
    if channel in ROBOT_CHANNELS and user.department is not None and user.department.webhook(channel):
        return Route(channel, user.department.name, user.department)
    email = (user.email or "").strip()
    return Route(Channel.EMAIL, email) if email else None


def base_key(note: Notification) -> str:
    """The notification's key without its recipient (what, level, period): one line per item in a group."""
    return note.key.rsplit(":u", 1)[0]


# -- the texts ------------------------------------------------------------------------------------------------

SHORT_TEXTS = {
    "due_soon": _l("%(task)s %(period)s%(what)s将于 %(deadline)s 截止，请及时填报。"),
    "due_today": _l("%(task)s %(period)s%(what)s今天截止，请今天内提交。"),
    "overdue": _l("%(task)s %(period)s%(what)s已逾期 %(days)s 个工作日，请尽快报送。"),
    "returned_overdue": _l("%(task)s %(period)s%(what)s退回后已逾期 %(days)s 个工作日未重新报送。"),
    "review_pending": _l("%(task)s %(period)s报告待审核，请及时审核。"),
    "escalation": _l("%(task)s %(period)s%(what)s已逾期 %(days)s 个工作日，列入督办。"),
    "task_due_soon": _l("%(task)s 完成时限 %(deadline)s，完成后请报送办结报告。"),
    "task_overdue": _l("%(task)s 已超过完成时限 %(days)s 个工作日，尚未办结销号。"),
}


def short_text(note: Notification, *, reader_department: str = "") -> str:
    """One line for an SMS or a robot: the kind's short text from the notification's data, else its subject.
    The item's department leads the line unless it is the reader's own (a department's group, its people)."""
    template = SHORT_TEXTS.get(note.kind)
    data = note.data or {}
    if template is None or not data.get("task"):
        return " ".join(note.subject.split())
    deadline = str(data.get("deadline") or "")
    text = str(template) % {
        "task": data.get("task") or "", "period": data.get("period_label") or data.get("period") or "",
        "what": label("item_kind", data.get("what") or "report"),
        "deadline": deadline[5:] if len(deadline) == 10 else deadline, "days": data.get("days_late") or 0,
    }
    department = str(data.get("department") or "")
    return f"{department} {text}" if department and department != reader_department else text


def fit(template: str, text: str, limit: int) -> str:
    """`template` with "{text}" replaced by `text`, shortened (…) so the whole is at most `limit` characters."""
    whole = template.replace("{text}", text, 1)
    if len(whole) <= limit:
        return whole
    room = limit - (len(whole) - len(text)) - 1
    if room <= 0:
        return whole[:limit]
    return template.replace("{text}", text[:room] + "…", 1)


def _most_pressing(notes: list[Notification]) -> list[Notification]:
    """The highest level first (督办 before a reminder), then in the order they were queued."""
    return sorted(notes, key=lambda n: (-(n.level or 0), n.id))


def sms_text(notes: list[Notification], settings: ChannelSettings, *, reader_department: str = "") -> str:
    """One SMS for a recipient's notifications of a pass: the most pressing one, and how many there are."""
    ordered = _most_pressing(notes)
    first = short_text(ordered[0], reader_department=reader_department)
    if len(ordered) == 1:
        return fit(settings.sms_template, first, SMS_MAX_CHARS)
    inner = _("您有 %(n)d 条待办提醒，详见系统消息。其中：%(first)s", n=len(ordered), first="{text}")
    return fit(settings.sms_template.replace("{text}", inner, 1), first, SMS_MAX_CHARS)


def sms_subject(notes: list[Notification]) -> str:
    """The row's subject in the admin's mailbox."""
    return _("短信：%(n)d 条提醒", n=len(notes))


def robot_text(department: Department, notes: list[Notification], *, mobiles: list[str], inbox_url: str) -> str:
    """A group post: a heading, one numbered line per item, the @-mentions and the link, within the robots'
    size limit (lines that do not fit are counted instead)."""
    head = _("【督办系统】%(d)s：%(n)d 条待办提醒", d=department.name, n=len(notes))
    tail = [" ".join(f"@{m}" for m in mobiles)] if mobiles else []
    tail.append(_("详情请登录系统查看：%(url)s", url=inbox_url))
    lines = [head]
    budget = ROBOT_MAX_BYTES - sum(len(t.encode()) + 1 for t in [head, *tail]) - 40
    for number, note in enumerate(_most_pressing(notes), 1):
        line = f"{number}. {short_text(note, reader_department=department.name)}"
        if len(line.encode()) + 1 > budget:
            lines.append(_("另有 %(n)d 条，见系统消息。", n=len(notes) - number + 1))
            break
        budget -= len(line.encode()) + 1
        lines.append(line)
    return "\n".join([*lines, *tail])


def robot_subject(channel: str, department: Department, count: int) -> str:
    return _("%(c)s：%(d)s %(n)d 条提醒", c=chinese_label("channel", channel), d=department.name, n=count)


# -- sending --------------------------------------------------------------------------------------------------

class DeliveryFailed(Exception):
    """This attempt failed; the message (one line) is recorded on the row, which is retried or parked."""


def one_line(text: str) -> str:
    return " ".join(str(text).split())[:ERROR_LENGTH]


class Sender:
    """One channel's delivery during one outbox pass. `ready` is False while the channel is not configured (its
    rows wait); `send` delivers one row or raises DeliveryFailed; `close` ends the pass."""

    channel: str = ""

    @property
    def ready(self) -> bool:
        return True

    def send(self, row: OutboxEmail, *, now: datetime) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to close for HTTP; the SMTP sender ends its connection."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: its answer counts as a failure, the body is never re-sent."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _where(url: str) -> str:
    """host/path of a URL for error texts: never its query, which carries the robots' tokens."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


class HttpSender(Sender):
    """POST a JSON document; remembers the hosts that did not answer during this pass."""

    def __init__(self, settings: ChannelSettings):
        self.settings = settings
        self.down: dict[str, str] = {}

    def post(self, url: str, payload: dict, headers: dict[str, str] | None = None) -> None:
        host = urlsplit(url).netloc
        if host in self.down:
            raise DeliveryFailed(self.down[host])
        request = urllib.request.Request(
            url, data=json.dumps(payload, ensure_ascii=False).encode(), method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "duban-reminders",
                     **(headers or {})})
        try:
            with urllib.request.build_opener(_NoRedirect).open(request, timeout=self.settings.timeout) as response:
                body = response.read(65536)
        except urllib.error.HTTPError as exc:
            text = exc.read(300).decode(errors="replace") if exc.fp else ""
            raise DeliveryFailed(one_line(_("%(where)s 答复 HTTP %(code)s：%(text)s", where=_where(url),
                                            code=exc.code, text=text or exc.reason))) from exc
        except (urllib.error.URLError, HTTPException, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, TimeoutError):
                message = _("%(where)s 在 %(s)s 秒内没有答复。", where=_where(url), s=f"{self.settings.timeout:g}")
            else:
                message = _("无法连接 %(where)s：%(error)s", where=_where(url), error=f"{type(reason).__name__}: {reason}")
            self.down[host] = one_line(message)
            raise DeliveryFailed(self.down[host]) from exc
        _check_answer(url, body)


def _check_answer(url: str, body: bytes) -> None:
    """A 2xx answer whose JSON says it failed ({"errcode": 310000, "errmsg": "sign not match"}) is a failure."""
    try:
        answer = json.loads(body.decode() or "{}")
    except (UnicodeDecodeError, ValueError):
        return
    if not isinstance(answer, dict):
        return
    for field in ("errcode", "code"):
        if field in answer and str(answer[field]).strip().lower() not in ("0", "200", "ok", "success"):
            message = answer.get("errmsg") or answer.get("msg") or answer.get("message") or ""
            raise DeliveryFailed(one_line(_("%(where)s 拒绝：%(field)s %(code)s %(message)s", where=_where(url),
                                            field=field, code=answer[field], message=message)))


class SmsSender(HttpSender):
    channel = Channel.SMS

    @property
    def ready(self) -> bool:
        return self.settings.sms_configured

    def send(self, row: OutboxEmail, *, now: datetime) -> None:
        headers = {"Idempotency-Key": row.key or f"outbox-{row.id}"}
        if self.settings.sms_key:
            headers["Authorization"] = f"Bearer {self.settings.sms_key}"
        self.post(self.settings.sms_url or "", {"mobile": row.to_address, "content": row.text_body}, headers)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: base64 of HMAC-SHA256 over "timestamp\\nsecret" keyed with the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class RobotSender(HttpSender):
    """A department's group robot; the webhook is read from the department at sending time."""

    def webhook(self, row: OutboxEmail) -> str:
        url = row.department.webhook(self.channel) if row.department is not None else ""
        if not url:
            raise DeliveryFailed(_("%(d)s未设置%(c)s地址。", d=row.to_address,
                                   c=chinese_label("channel", self.channel)))
        return url

    def mobiles(self, row: OutboxEmail) -> list[str]:
        return [str(m) for m in (row.data or {}).get("mobiles", [])]


class DingTalkSender(RobotSender):
    channel = Channel.DINGTALK

    def send(self, row: OutboxEmail, *, now: datetime) -> None:
        url = self.webhook(row)
        secret = row.department.dingtalk_secret if row.department is not None else ""
        if secret:
            stamp = int(now.timestamp() * 1000)
            url += ("&" if urlsplit(url).query else "?") + f"timestamp={stamp}&sign={quote_plus(dingtalk_sign(secret, stamp))}"
        self.post(url, {"msgtype": "text", "text": {"content": row.text_body},
                        "at": {"atMobiles": self.mobiles(row), "isAtAll": False}})


class WeComSender(RobotSender):
    channel = Channel.WECOM

    def send(self, row: OutboxEmail, *, now: datetime) -> None:
        self.post(self.webhook(row), {"msgtype": "text", "text": {"content": row.text_body,
                                                                  "mentioned_mobile_list": self.mobiles(row)}})


def http_senders(settings: ChannelSettings) -> list[Sender]:
    return [SmsSender(settings), DingTalkSender(settings), WeComSender(settings)]


# -- checking what people type ----------------------------------------------------------------------------------

def webhook_problem(url: str) -> str | None:
    """Why a robot webhook URL cannot be used, or None: http(s) with a host, no spaces, at most 500 characters."""
    if len(url) > 500:
        return _("地址不能超过 500 个字符。")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return _("机器人地址应以 http:// 或 https:// 开头，例如 https://oapi.dingtalk.com/robot/send?access_token=…")
    return None


def phone_problem(phone: str) -> str | None:
    """A mainland mobile number (11 digits starting with 1), optionally with +86."""
    digits = phone.removeprefix("+86").replace("-", "").replace(" ", "")
    if not (digits.isascii() and digits.isdigit() and len(digits) == 11 and digits.startswith("1")):
        return _("手机号码应为 11 位数字，例如 13800000000。")
    return None


def normal_phone(phone: str) -> str:
    return phone.strip().removeprefix("+86").replace("-", "").replace(" ", "")
