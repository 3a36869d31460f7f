"""Outbox delivery: one message per recipient, channel and pass, sent with retries, backoff and parking; and
the SMTP sender of the email channel (the others are in workflow.mail.channels).

The reminder pass writes Notification rows (the in-app inbox). `build_digests` gathers each recipient's
unsent ones (workflow.mail.digests) into one OutboxEmail row on the recipient's channel (a mail with Chinese
subject, text and HTML parts from templates/email/digest.*, an SMS, a group robot post) and commits;
`send_due` delivers the due rows through their channel's Sender (email over one SMTP connection), committing
after each message so a crash mid-batch never sends one twice; `deliver_pass` does both, for the scheduler and
`flask outbox send`.

Without MAIL_SERVER nothing leaves the machine: digests are built and stay pending, for the admin's mailbox
page. SMTP trouble (an unreachable host, a wrong port, a refused recipient) is recorded on the rows, never
raised: a failed message (on any channel) is retried after 1, 5, 15, 60 … minutes and parked after
MAIL_MAX_ATTEMPTS failures, where the admin can put it back (`retry_parked`).

Settings (read once, as workflow.config.MailSettings): MAIL_SERVER, MAIL_PORT (25), MAIL_USE_TLS (STARTTLS),
MAIL_USE_SSL, MAIL_USERNAME, MAIL_PASSWORD, MAIL_DEFAULT_SENDER ("督办系统 <noreply@localhost>"),
MAIL_TIMEOUT (10 s), MAIL_MAX_ATTEMPTS (5), MAIL_DIGEST_MAX_ITEMS (100 listed per digest), PUBLIC_BASE_URL
("http://127.0.0.1:5000") for the links.
"""
from __future__ import annotations

import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from models import Channel, OutboxEmail, User
from models.notify import EmailStatus
from workflow.clock import local
from workflow.config import ChannelSettings, MailSettings, channel_settings, mail_settings
from workflow.domain import NotFound
from workflow.extensions import db
from workflow.mail.channels import DeliveryFailed, Sender, http_senders, one_line
from workflow.mail.digests import build_digests, new_message_id
from workflow.transitions import apply_transition

BACKOFF_MINUTES = (1, 5, 15, 60, 240, 720)  # after the 1st, 2nd … failure; the last one repeats
CLAIM = timedelta(minutes=15)            # a message being sent is not due for others meanwhile


def backoff(failures: int) -> timedelta:
    """The wait after the n-th failure (1-based): 1, 5, 15, 60, 240, 720, 720 … minutes."""
    return timedelta(minutes=BACKOFF_MINUTES[min(max(failures, 1), len(BACKOFF_MINUTES)) - 1])


# -- sending -----------------------------------------------------------------------------------------------

class ConnectionFailed(Exception):
    """The SMTP connection could not be opened, or broke: the rest of the batch waits for the next pass."""


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


class SmtpSender(Sender):
    """Email over one SMTP connection for the whole pass. A broken connection (refused, lost, wrong login) is
    recorded on this message and on every remaining one of the pass without trying them."""

    channel = Channel.EMAIL

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self.conn: smtplib.SMTP | None = None
        self.broken: str | None = None

    @property
    def ready(self) -> bool:
        return self.settings.configured

    def send(self, row: OutboxEmail, *, now: datetime) -> None:
        if self.broken is not None:
            raise DeliveryFailed(self.broken)
        try:
            if self.conn is None:
                self.conn = _connect(self.settings)
            message = build_message(row, self.settings, now=now)
            self.conn.send_message(message, from_addr=self.settings.envelope_sender, to_addrs=[row.to_address])
        except ConnectionFailed as exc:
            self.broken = str(exc)
            raise DeliveryFailed(self.broken) from exc
        except MESSAGE_ERRORS as exc:
            raise DeliveryFailed(_describe_error(exc)) from exc
        except CONNECTION_ERRORS as exc:
            self.broken = _describe_error(exc)
            _close(self.conn)
            self.conn = None
            raise DeliveryFailed(self.broken) from exc

    def close(self) -> None:
        _close(self.conn)
        self.conn = None


def _due_ids(now: datetime, channels: list[str]) -> list[int]:
    return list(db.session.scalars(
        select(OutboxEmail.id).where(OutboxEmail.status == EmailStatus.PENDING, OutboxEmail.channel.in_(channels),
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


def _record_failure(row: OutboxEmail, error: str, max_attempts: int, now: datetime) -> bool:
    """Count one failed attempt (committed); True when the message is now parked."""
    row.attempts = (row.attempts or 0) + 1
    row.last_error = one_line(error)
    if row.attempts >= max_attempts:
        apply_transition(row, "park", actor=None, now=now, comment=row.last_error, changes={"next_attempt_at": None},
                         data={"attempts": row.attempts})
        return True
    row.next_attempt_at = now + backoff(row.attempts)
    db.session.commit()
    return False


def _pending_count() -> int:
    return db.session.scalar(
        select(func.count(OutboxEmail.id)).where(OutboxEmail.status == EmailStatus.PENDING)) or 0


def send_due(*, now: datetime, mailer: MailSettings | None = None, channels: ChannelSettings | None = None) -> dict:
    """Deliver every due pending message through its channel; never raises on a channel's trouble.

    Returns {"sent", "failed", "parked", "pending"}: messages delivered, failed attempts that will be retried,
    and messages parked by this call, then how many are still pending afterwards (due later, or waiting for a
    channel to be configured: email without MAIL_SERVER).
    `mailer` and `channels` override the settings read from the configuration.
    """
    settings = mailer or mail_settings()
    senders: dict[str, Sender] = {s.channel: s for s in (SmtpSender(settings),
                                                         *http_senders(channels or channel_settings()))}
    result = {"sent": 0, "failed": 0, "parked": 0, "pending": 0}
    try:
        for email_id in _due_ids(now, [c for c, sender in senders.items() if sender.ready]):
            row = _claim(email_id, now)
            if row is None:
                continue
            try:
                senders[row.channel].send(row, now=now)
            except DeliveryFailed as exc:
                outcome = "parked" if _record_failure(row, str(exc), settings.max_attempts, now) else "failed"
            else:
                apply_transition(row, "send", actor=None, now=now, changes={"sent_at": now, "next_attempt_at": None})
                outcome = "sent"
            result[outcome] += 1
    finally:
        for sender in senders.values():
            sender.close()
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
    row = db.session.get(OutboxEmail, email_id)
    if row is None:
        raise NotFound(_("消息不存在。"))
    apply_transition(row, "retry", actor=actor, now=now, comment=row.last_error, data={"attempts": row.attempts},
                     changes={"attempts": 0, "next_attempt_at": None})
    return row
