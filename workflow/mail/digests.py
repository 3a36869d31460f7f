"""Digests: each recipient's unsent notifications gathered into one OutboxEmail per pass.

The reminder pass writes Notification rows (the in-app inbox). `build_digests` gathers each recipient's
unsent ones into one OutboxEmail (Chinese subject, text and HTML parts from templates/email/digest.*) and
commits, one recipient at a time; a 'daily' recipient gets at most one digest a day. workflow.mail.smtp
delivers them.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from models import Notification, OutboxEmail, User
from models.notify import EmailStatus
from workflow.clock import local
from workflow.config import MailSettings, mail_settings
from workflow.extensions import db

DAILY_GAP = timedelta(hours=20)          # a 'daily' recipient gets at most one digest in this time


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


def digest_items(notes: list[Notification]) -> list[DigestItem]:
    base = mail_settings().base_url
    return [_item(n, base) for n in notes]


def render_digest(user: User, items: list[DigestItem], *, now: datetime) -> tuple[str, str, str]:
    """(subject, text body, html body) of one recipient's digest, in the recipient's language (Chinese first)."""
    settings = mail_settings()
    base = settings.base_url
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
        shown = [item for group in by_department.values() for item in group][:settings.digest_max_items]
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
