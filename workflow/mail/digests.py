"""Digests: each recipient's unsent notifications gathered into one outbox row per channel and pass.

The reminder pass writes Notification rows (the in-app inbox). `build_digests` gathers each recipient's
unsent ones into one OutboxEmail row on the recipient's channel (workflow.mail.channels.route_for): a mail
(Chinese subject, text and HTML parts from templates/email/digest.*), an SMS, or a post to the department's
group robot; it commits one row at a time; a 'daily' recipient gets at most one digest a day.
workflow.mail.smtp delivers them, whatever the channel.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import Channel, Department, Notification, OutboxEmail, User
from models.notify import EmailStatus
from workflow.clock import local
from workflow.config import ChannelSettings, MailSettings, channel_settings, mail_settings
from workflow.extensions import db
from workflow.labels import chinese
from workflow.mail.channels import (
    Route,
    base_key,
    robot_subject,
    robot_text,
    route_for,
    sms_subject,
    sms_text,
)

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


@dataclass
class Batch:
    """One outbox row to write, as plain values (taken before the first commit expires the loaded rows)."""

    key: str
    channel: str
    to_address: str
    subject: str
    text: str
    ids: list[int]                  # the notifications it delivers
    html: str = ""
    user_id: int | None = None      # a person's mail or SMS; its sending counts as the day's digest
    department_id: int | None = None
    data: dict | None = None


def _recipients_reachable(channels: ChannelSettings):
    """A superset, in SQL, of the users some channel reaches (route_for decides): the others' notifications stay
    in the inbox without being loaded on every pass."""
    conditions = [func.trim(func.coalesce(User.email, "")) != "", Department.dingtalk_webhook != "",
                  Department.wecom_webhook != ""]
    if channels.sms_configured:
        conditions.append(func.trim(func.coalesce(User.phone, "")) != "")
    return or_(*conditions)


def _person_batch(user: User, route: Route, notes: list[Notification], channels: ChannelSettings, *,
                  now: datetime) -> Batch:
    ids = [n.id for n in notes]
    key = f"{route.channel}:u{user.id}:n{ids[0]}"
    if route.channel == Channel.EMAIL:
        subject, text, html = render_digest(user, digest_items(notes), now=now)
        return Batch(key, route.channel, route.address, subject, text, ids, html=html, user_id=user.id)
    with force_locale(user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_Hans_CN")):
        text = sms_text(notes, channels, reader_department=user.department.name if user.department else "")
        return Batch(key, route.channel, route.address, sms_subject(notes), text, ids, user_id=user.id)


def _delivered_before(channel: str, department_id: int, bases: set[str]) -> dict[str, int]:
    """The items (base keys) a department's group robot has already been sent, with the row that sent them."""
    user_ids = db.session.scalars(select(User.id).where(User.department_id == department_id)).all()
    candidates = [f"{b}:u{u}" for b in bases for u in user_ids]
    if not candidates:
        return {}
    found = db.session.execute(
        select(Notification.key, Notification.email_id).join(OutboxEmail, Notification.email_id == OutboxEmail.id)
        .where(OutboxEmail.channel == channel, OutboxEmail.department_id == department_id,
               Notification.key.in_(candidates))).all()
    return {key.rsplit(":u", 1)[0]: email_id for key, email_id in found}


def _robot_batches(channel: str, department: Department, notes: list[Notification],
                   inbox_url: str) -> tuple[Batch | None, dict[int, list[int]]]:
    """One post for the group: each item once, however many of its people were reminded of it, and never an
    item the group was already sent. Returns the post (None when nothing is new) and, for the notifications
    whose item went out before, the row that carried it."""
    earlier = _delivered_before(channel, department.id, {base_key(n) for n in notes})
    linked: dict[int, list[int]] = {}
    fresh: dict[str, Notification] = {}
    ids = []
    for note in notes:
        base = base_key(note)
        if base in earlier:
            linked.setdefault(earlier[base], []).append(note.id)
        else:
            fresh.setdefault(base, note)
            ids.append(note.id)
    if not fresh:
        return None, linked
    items = list(fresh.values())
    mobiles = list(dict.fromkeys(n.user.phone.strip() for n in notes if base_key(n) in fresh and (n.user.phone or "").strip()))
    with chinese():
        text = robot_text(department, items, mobiles=mobiles, inbox_url=inbox_url)
        subject = robot_subject(channel, department, len(items))
    return Batch(f"{channel}:d{department.id}:n{ids[0]}", channel, department.name, subject, text, ids,
                 department_id=department.id, data={"mobiles": mobiles}), linked


def build_digests(*, now: datetime) -> int:
    """Gather every active recipient's unsent notifications into one outbox row per channel and recipient;
    returns how many rows were written.

    A person's notifications go where workflow.mail.channels.route_for sends them: one digest mail or one SMS
    per person (a 'daily' person gets at most one a day), one post per department group robot. Each row is
    committed on its own, so a crash between building and sending loses nothing, and a second builder running
    at the same time adds no duplicate: the row's unique key and the UPDATE that takes the notifications (it
    finds them taken) stop it.
    """
    settings, channels = mail_settings(), channel_settings()
    rows = db.session.scalars(
        select(Notification).join(Notification.user).outerjoin(User.department)
        .options(selectinload(Notification.user).selectinload(User.department))
        .where(Notification.wants_email.is_(True), Notification.email_id.is_(None), User.active.is_(True),
               _recipients_reachable(channels))
        .order_by(Notification.user_id, Notification.id)
    ).all()
    by_user: dict[int, list[Notification]] = {}
    for note in rows:
        by_user.setdefault(note.user_id, []).append(note)
    batches: list[Batch] = []
    robots: dict[tuple[str, int], list[Notification]] = {}
    for notes in by_user.values():
        user = notes[0].user
        route = route_for(user, channels)
        if route is None:
            continue
        if route.department is not None:
            robots.setdefault((route.channel, route.department.id), []).extend(notes)
        elif _due_for_digest(user, now):
            batches.append(_person_batch(user, route, notes, channels, now=now))
    links: dict[int, list[int]] = {}
    inbox_url = settings.base_url + _path("account.inbox", "/account/inbox")
    for (channel, _department_id), notes in robots.items():
        batch, linked = _robot_batches(channel, notes[0].user.department, notes, inbox_url)
        if batch is not None:
            batches.append(batch)
        for email_id, ids in linked.items():
            links.setdefault(email_id, []).extend(ids)
    _link(links)
    return sum(1 for batch in batches if _write(batch, settings, now=now))


def _link(links: dict[int, list[int]]) -> None:
    """Notifications whose item their group was sent before: delivered by that row."""
    if not links:
        return
    for email_id, ids in links.items():
        db.session.execute(update(Notification).where(Notification.id.in_(ids), Notification.email_id.is_(None))
                           .values(email_id=email_id).execution_options(synchronize_session=False))
    db.session.commit()


def _write(batch: Batch, settings: MailSettings, *, now: datetime) -> bool:
    """Write one row and take its notifications, in one commit; False when another builder was first."""
    try:
        row = OutboxEmail(key=batch.key, channel=batch.channel, user_id=batch.user_id,
                          department_id=batch.department_id, to_address=batch.to_address[:200],
                          subject=batch.subject[:300], text_body=batch.text, html_body=batch.html, data=batch.data,
                          created_at=now, status=EmailStatus.PENDING, attempts=0, last_error="", message_id="")
        db.session.add(row)
        db.session.flush()
        if batch.channel == Channel.EMAIL:
            row.message_id = new_message_id(row.id, settings)
        taken = db.session.execute(
            update(Notification).where(Notification.id.in_(batch.ids), Notification.email_id.is_(None))
            .values(email_id=row.id).execution_options(synchronize_session=False)
        ).rowcount
        if taken != len(batch.ids):  # another builder got some of them first: leave them to it
            db.session.rollback()
            return False
        if batch.user_id is not None:
            db.session.get(User, batch.user_id).last_digest_at = now
        db.session.commit()
    except IntegrityError:           # the same row, written by another builder a moment ago
        db.session.rollback()
        return False
    except Exception:
        db.session.rollback()
        raise
    return True
