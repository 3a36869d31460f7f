"""Email delivery: one digest per recipient and pass, sent over SMTP with retries, backoff and parking.

The reminder pass writes Notification rows (the in-app inbox). `build_digests` gathers each recipient's
unsent ones into one OutboxEmail (Chinese subject, text and HTML parts from templates/email/digest.*) and
commits; `send_due` delivers the due rows over one SMTP connection, committing after each message so a crash
mid-batch never sends one twice; `deliver_pass` does both, for the scheduler and `flask outbox send`.

Without MAIL_SERVER nothing leaves the machine: digests are built and stay pending, for the admin's mailbox
page. SMTP trouble (an unreachable host, a wrong port, a refused recipient) is recorded on the rows, never
raised: a failed message is retried after 1, 5, 15, 60 … minutes and parked after MAIL_MAX_ATTEMPTS failures,
where the admin can put it back (`retry_parked`).

Settings (app.config, falling back to the environment): MAIL_SERVER, MAIL_PORT (25), MAIL_USE_TLS (STARTTLS),
MAIL_USE_SSL, MAIL_USERNAME, MAIL_PASSWORD, MAIL_DEFAULT_SENDER ("督办系统 <noreply@localhost>"),
MAIL_TIMEOUT (10 s), MAIL_MAX_ATTEMPTS (5), MAIL_DIGEST_MAX_ITEMS (100 listed per digest), PUBLIC_BASE_URL
("http://127.0.0.1:5000") for the links.
"""
from __future__ import annotations

import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from models import Notification, OutboxEmail, User
from models.audit import record
from models.notify import EmailStatus
from workflow.clock import local
from workflow.domain import Conflict, NotFound, require
from workflow.extensions import db

DEFAULT_SENDER = "督办系统 <noreply@localhost>"
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DAILY_GAP = timedelta(hours=20)          # a 'daily' recipient gets at most one digest in this time
BACKOFF_MINUTES = (1, 5, 15, 60, 240, 720)  # after the 1st, 2nd … failure; the last one repeats
CLAIM = timedelta(minutes=15)            # a message being sent is not due for others meanwhile
ERROR_LENGTH = 500


# -- settings ----------------------------------------------------------------------------------------------

def setting(name: str, default=None):
    """A mail setting: app.config when the key is there (tests, deployments), else the environment."""
    value = current_app.config[name] if name in current_app.config else os.environ.get(name, default)
    return default if value is None or value == "" else value


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _int(name: str, default: int) -> int:
    try:
        return int(setting(name, default))
    except (TypeError, ValueError):
        return default


def _float(name: str, default: float) -> float:
    try:
        return float(setting(name, default))
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class MailSettings:
    server: str | None
    port: int
    use_tls: bool
    use_ssl: bool
    username: str | None
    password: str | None
    sender: str
    timeout: float
    max_attempts: int

    @property
    def configured(self) -> bool:
        return bool(self.server)

    @property
    def envelope_sender(self) -> str:
        return parseaddr(self.sender)[1] or "noreply@localhost"

    @property
    def describe(self) -> str:
        """For the admin page: where mail goes, never the password."""
        if not self.server:
            return ""
        security = " (SSL)" if self.use_ssl else " (STARTTLS)" if self.use_tls else ""
        user = f"，{self.username}" if self.username else ""
        return f"{self.server}:{self.port}{security}{user}"


def mail_settings() -> MailSettings:
    use_ssl = _flag(setting("MAIL_USE_SSL", False))
    return MailSettings(
        server=(str(setting("MAIL_SERVER")).strip() or None) if setting("MAIL_SERVER") else None,
        port=_int("MAIL_PORT", 465 if use_ssl else 25),
        use_tls=_flag(setting("MAIL_USE_TLS", False)),
        use_ssl=use_ssl,
        username=setting("MAIL_USERNAME"),
        password=setting("MAIL_PASSWORD"),
        sender=str(setting("MAIL_DEFAULT_SENDER", DEFAULT_SENDER)),
        timeout=_float("MAIL_TIMEOUT", 10.0),
        max_attempts=max(1, _int("MAIL_MAX_ATTEMPTS", 5)),
    )


def max_items() -> int:
    """How many items a digest lists; the rest are counted, and are in the in-app inbox."""
    return max(1, _int("MAIL_DIGEST_MAX_ITEMS", 100))


def backoff(failures: int) -> timedelta:
    """The wait after the n-th failure (1-based): 1, 5, 15, 60, 240, 720, 720 … minutes."""
    return timedelta(minutes=BACKOFF_MINUTES[min(max(failures, 1), len(BACKOFF_MINUTES)) - 1])


# -- digests -----------------------------------------------------------------------------------------------

@dataclass
class DigestItem:
    """One notification as the digest templates show it."""

    subject: str
    body: str
    department: str
    task: str
    task_title: str
    period_label: str
    deadline: str
    days_late: int
    link: str
    number: int = 0


def _absolute(link: str, base: str) -> str:
    if not link:
        return base + "/"
    if link.startswith(("http://", "https://")):
        return link
    return base + (link if link.startswith("/") else "/" + link)


def _path(endpoint: str, fallback: str) -> str:
    """A URL path of this app, outside any request (the scheduler has none)."""
    try:
        return current_app.url_map.bind("localhost").build(endpoint)
    except Exception:  # the endpoint is not registered in this build
        return fallback


def _item(note: Notification, base: str) -> DigestItem:
    data = note.data or {}
    try:
        days_late = int(data.get("days_late") or 0)
    except (TypeError, ValueError):
        days_late = 0
    return DigestItem(
        subject=note.subject, body=note.body or "", department=str(data.get("department") or ""),
        task=str(data.get("task") or ""), task_title=str(data.get("task_title") or ""),
        period_label=str(data.get("period_label") or data.get("period") or ""),
        deadline=str(data.get("deadline") or ""), days_late=days_late,
        link=_absolute(note.link or str(data.get("link") or ""), base),
    )


def _department_name(user: User, items: list[DigestItem]) -> tuple[str, int]:
    """The department a digest is about: the recipient's own, else the one its items share; and how many."""
    names = list(dict.fromkeys(i.department for i in items if i.department))
    if user.department is not None:
        return user.department.name, len(names) or 1
    return (names[0] if len(names) == 1 else ""), len(names)


def _render(name: str, context: dict) -> str:
    """Render a mail template with the app's Jinja environment (autoescaped for .html, Babel's `_`).

    Not flask.render_template: the scheduler has no request, and the app's context processors read the
    request and the logged-in user."""
    return current_app.jinja_env.get_template(name).render(**context)


def public_base_url() -> str:
    return str(setting("PUBLIC_BASE_URL", DEFAULT_BASE_URL)).rstrip("/")


def digest_items(notes: list[Notification]) -> list[DigestItem]:
    base = public_base_url()
    return [_item(n, base) for n in notes]


def render_digest(user: User, items: list[DigestItem], *, now: datetime) -> tuple[str, str, str]:
    """(subject, text body, html body) of one recipient's digest, in the recipient's language (Chinese first)."""
    base = public_base_url()
    department, department_count = _department_name(user, items)
    locale = user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_Hans_CN")
    with force_locale(locale):
        if department:
            subject = _("【督办系统】您有 %(n)d 条待办提醒（%(d)s）", n=len(items), d=department)
        elif department_count > 1:
            subject = _("【督办系统】您有 %(n)d 条待办提醒（涉及 %(c)d 个单位）", n=len(items), c=department_count)
        else:
            subject = _("【督办系统】您有 %(n)d 条待办提醒", n=len(items))
        by_department: dict[str, list[DigestItem]] = {}
        for item in items:      # departments in order of first appearance, items in queue order
            by_department.setdefault(item.department, []).append(item)
        shown = [item for group in by_department.values() for item in group][:max_items()]
        groups: dict[str, list[DigestItem]] = {}
        for number, item in enumerate(shown, 1):
            item.number = number
            groups.setdefault(item.department, []).append(item)
        context = {"user": user, "name": user.display, "department": department,
                   "department_count": department_count, "items": shown, "count": len(items),
                   "hidden": len(items) - len(shown),
                   # one heading per department when a digest spans several (the office's)
                   "groups": list(groups.items()) if len(groups) > 1 else [("", shown)],
                   "summary": [(d, len(g)) for d, g in by_department.items()] if len(by_department) > 1 else [],
                   "base_url": base, "inbox_url": base + _path("account.inbox", "/account/inbox"),
                   "generated": local(now).strftime("%Y-%m-%d %H:%M"), "subject": subject}
        text = _render("email/digest.txt", context)
        html = _render("email/digest.html", context)
    return subject, text, html


def _due_for_digest(user: User, now: datetime) -> bool:
    if user.digest_frequency != "daily" or user.last_digest_at is None:
        return True
    return now - user.last_digest_at >= DAILY_GAP


def _message_domain(settings: MailSettings) -> str:
    domain = settings.envelope_sender.rpartition("@")[2]
    return domain or "localhost"


def new_message_id(email_id: int, settings: MailSettings) -> str:
    """Unique and short enough to stay on one header line; kept on the row so retries reuse it."""
    return f"<duban.{email_id}.{secrets.token_hex(6)}@{_message_domain(settings)}>"


def build_digests(*, now: datetime) -> int:
    """Gather every active recipient's unsent notifications into one OutboxEmail each; returns how many.

    Commits each recipient's digest on its own, so a crash between building and sending loses nothing, and a
    second builder running at the same time (its UPDATE finds the notifications taken) adds no duplicate.
    """
    settings = mail_settings()
    rows = db.session.scalars(
        select(Notification).join(Notification.user)
        .options(selectinload(Notification.user).selectinload(User.department))
        .where(Notification.wants_email.is_(True), Notification.email_id.is_(None), User.active.is_(True),
               User.email.is_not(None), func.trim(User.email) != "")
        .order_by(Notification.user_id, Notification.id)
    ).all()
    by_user: dict[int, list[Notification]] = {}
    for note in rows:
        by_user.setdefault(note.user_id, []).append(note)
    # plain values, taken before the first commit expires the loaded rows
    work = [(user_id, [n.id for n in notes], digest_items(notes)) for user_id, notes in by_user.items()]
    built = 0
    for user_id, ids, items in work:
        user = db.session.get(User, user_id)
        if user is None or not _due_for_digest(user, now):
            continue
        try:
            subject, text, html = render_digest(user, items, now=now)
            email = OutboxEmail(user_id=user.id, to_address=(user.email or "").strip(), subject=subject[:300],
                                text_body=text, html_body=html, created_at=now, status=EmailStatus.PENDING,
                                attempts=0, last_error="", message_id="")
            db.session.add(email)
            db.session.flush()
            email.message_id = new_message_id(email.id, settings)
            taken = db.session.execute(
                update(Notification).where(Notification.id.in_(ids), Notification.email_id.is_(None))
                .values(email_id=email.id).execution_options(synchronize_session=False)
            ).rowcount
            if taken != len(ids):  # another builder got some of them first: leave them to it
                db.session.rollback()
                continue
            user.last_digest_at = now
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        built += 1
    return built


# -- sending -----------------------------------------------------------------------------------------------

class ConnectionFailed(Exception):
    """The SMTP connection could not be opened, or broke: the rest of the batch waits for the next pass."""


def one_line(text: str) -> str:
    return " ".join(str(text).split())[:ERROR_LENGTH]


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                 for addr, (code, msg) in exc.recipients.items()]
        return one_line("收件人被拒绝：" + "；".join(parts))
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return one_line(f"邮件服务器拒绝（{type(exc).__name__}）：{exc.smtp_code} {msg}")
    return one_line(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def build_message(row: OutboxEmail, settings: MailSettings, *, now: datetime) -> EmailMessage:
    """multipart/alternative, UTF-8 subject and bodies; the row's Message-ID, kept across retries."""
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = settings.sender
    name = row.user.display if row.user is not None else ""
    msg["To"] = formataddr((name, row.to_address)) if name else row.to_address
    msg["Date"] = format_datetime(local(now))
    msg["Message-ID"] = row.message_id or new_message_id(row.id, settings)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.text_body, charset="utf-8")
    msg.add_alternative(row.html_body, subtype="html", charset="utf-8")
    return msg


def _connect(settings: MailSettings) -> smtplib.SMTP:
    try:
        if settings.use_ssl:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(settings.server, settings.port, timeout=settings.timeout,
                                                  context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
        try:
            if settings.use_tls and not settings.use_ssl:
                conn.starttls(context=ssl.create_default_context())
            if settings.username:
                conn.login(settings.username, settings.password or "")
        except BaseException:
            _close(conn)
            raise
        return conn
    except (smtplib.SMTPException, OSError, ValueError, UnicodeError) as exc:
        raise ConnectionFailed(one_line(
            f"连接邮件服务器失败（{settings.server}:{settings.port}）：{_describe_error(exc)}")) from exc


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


# Problems with one message (the server answered, but no): record and go on with the next one.
MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused,
                  smtplib.SMTPNotSupportedError, UnicodeError, ValueError)
# Problems with the connection: record on this message and every remaining due one, and stop the batch.
CONNECTION_ERRORS = (smtplib.SMTPException, OSError)


def _due_ids(now: datetime) -> list[int]:
    return list(db.session.scalars(
        select(OutboxEmail.id).where(OutboxEmail.status == EmailStatus.PENDING,
                                     or_(OutboxEmail.next_attempt_at.is_(None), OutboxEmail.next_attempt_at <= now))
        .order_by(OutboxEmail.id)))


def _claim(email_id: int, now: datetime) -> OutboxEmail | None:
    """Take one due message for this sender (committed), or None when someone else took or sent it."""
    taken = db.session.execute(
        update(OutboxEmail).where(OutboxEmail.id == email_id, OutboxEmail.status == EmailStatus.PENDING,
                                  or_(OutboxEmail.next_attempt_at.is_(None), OutboxEmail.next_attempt_at <= now))
        .values(next_attempt_at=now + CLAIM).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not taken:
        return None
    row = db.session.get(OutboxEmail, email_id)
    db.session.refresh(row)
    return row


def _record_failure(row: OutboxEmail, error: str, settings: MailSettings, now: datetime) -> bool:
    """Count one failed attempt (committed); True when the message is now parked."""
    row.attempts = (row.attempts or 0) + 1
    row.last_error = one_line(error)
    if row.attempts >= settings.max_attempts:
        row.status, row.next_attempt_at = EmailStatus.PARKED, None
    else:
        row.next_attempt_at = now + backoff(row.attempts)
    db.session.commit()
    return row.status == EmailStatus.PARKED


def _pending_count() -> int:
    return db.session.scalar(
        select(func.count(OutboxEmail.id)).where(OutboxEmail.status == EmailStatus.PENDING)) or 0


def send_due(*, now: datetime, mailer: MailSettings | None = None) -> dict:
    """Deliver every due pending message over one SMTP connection; never raises on SMTP trouble.

    Returns {"sent", "failed", "parked", "pending"}: messages delivered, failed attempts that will be retried,
    and messages parked by this call, then how many are still pending afterwards (due later, or — without
    MAIL_SERVER — waiting for a server). `mailer` overrides the settings read from the configuration.
    """
    settings = mailer or mail_settings()
    result = {"sent": 0, "failed": 0, "parked": 0, "pending": 0}
    if not settings.configured:
        result["pending"] = _pending_count()
        return result
    conn: smtplib.SMTP | None = None
    broken: str | None = None   # the connection error that stopped the batch
    try:
        for email_id in _due_ids(now):
            row = _claim(email_id, now)
            if row is None:
                continue
            error = broken
            if error is None:
                try:
                    if conn is None:
                        conn = _connect(settings)
                    message = build_message(row, settings, now=now)
                    conn.send_message(message, from_addr=settings.envelope_sender, to_addrs=[row.to_address])
                except ConnectionFailed as exc:
                    error = broken = str(exc)
                except MESSAGE_ERRORS as exc:
                    error = _describe_error(exc)
                except CONNECTION_ERRORS as exc:
                    error = broken = _describe_error(exc)
                    _close(conn)
                    conn = None
            if error is None:
                row.status, row.sent_at, row.next_attempt_at = EmailStatus.SENT, now, None
                db.session.commit()
                result["sent"] += 1
            elif _record_failure(row, error, settings, now):
                result["parked"] += 1
            else:
                result["failed"] += 1
    finally:
        _close(conn)
    result["pending"] = _pending_count()
    return result


def deliver_pass(*, now: datetime, mailer: MailSettings | None = None) -> dict:
    """One delivery pass (the scheduler's job and `flask outbox send`): build digests, then send what is due.

    Returns send_due's counts plus "built", the digests built by this pass. SMTP problems end up on the rows.
    """
    built = build_digests(now=now)
    result = send_due(now=now, mailer=mailer)
    return {**result, "built": built}


def retry_parked(email_id: int, *, actor: User, now: datetime) -> OutboxEmail:
    """The admin puts a parked message back in the queue: attempts start again, the next pass sends it."""
    require(actor is not None and actor.is_admin, "只有系统管理员可以重新发送邮件。")
    row = db.session.get(OutboxEmail, email_id)
    if row is None:
        raise NotFound("邮件不存在。")
    if row.status != EmailStatus.PARKED:
        raise Conflict("只有已搁置的邮件可以重新发送。")
    record("outbox_retry", row, actor=actor, now=now, from_state=EmailStatus.PARKED, to_state=EmailStatus.PENDING,
           comment=row.last_error, data={"attempts": row.attempts})
    row.status, row.attempts, row.next_attempt_at = EmailStatus.PENDING, 0, None
    db.session.commit()
    return row
