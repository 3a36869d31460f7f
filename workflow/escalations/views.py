"""督办 pages: the office's escalation list, closing an item with a note, one escalation's page (its notice, the
department's 整改反馈, leaders' instructions, the audit trail) and the 督办通知单 (HTML and PDF).

Office and leaders read everything; only the office closes; a department head sees its own department's
escalations (and their notices) and writes the 整改反馈; liaisons and admins get 403.
"""
from __future__ import annotations

from contextlib import nullcontext

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import TextAreaField

from forms import BaseForm
from models import Escalation, EscalationStatus, Period, Role
from models.audit import trail
from pdf.render import FONT_MESSAGE, PdfError, PdfUnavailable, render_pdf
from workflow.calendar.office import office_calendar
from workflow.calendar.periods import MAX_YEAR, MIN_YEAR, period_name
from workflow.clock import local, utcnow
from workflow.converters import id_arg, page_arg
from workflow.domain import DomainError
from workflow.errors import forbid_unless, refused, require_valid
from workflow.escalations import services
from workflow.escalations.notices import notice_title
from workflow.extensions import db
from workflow.files import content_disposition
from workflow.instructions.services import instructions_on
from workflow.labels import chinese
from workflow.security import limit

bp = Blueprint("escalations", __name__, url_prefix="/escalations")
bp.add_app_template_global(notice_title, "notice_title")   # the list names each notice in its reader's language

PER_PAGE = 50
TABS = (EscalationStatus.OPEN.value, EscalationStatus.CLOSED.value)


class CloseForm(BaseForm):
    """CSRF and the note; the service checks that the note is there and not too long."""

    note = TextAreaField(_l("关闭说明"))


class FeedbackForm(BaseForm):
    """CSRF and the 整改反馈; the service checks that it is there and not too long."""

    feedback = TextAreaField(_l("整改反馈"))


def _escalation_or_404(escalation_id: int) -> Escalation:
    escalation = db.get_or_404(Escalation, escalation_id)
    forbid_unless(escalation.can_view(current_user))
    return escalation


def _list_args() -> dict:
    """The list's GET state (tab, department, plan, page) with unknown values dropped."""
    tab = request.args.get("tab", "open")
    year = id_arg("year")
    return {"tab": tab if tab in TABS else "open", "department": id_arg("department"), "plan": id_arg("plan"),
            "period": id_arg("period"), "year": year if year and MIN_YEAR <= year <= MAX_YEAR else None,
            "page": page_arg()}


def list_query(args: dict) -> dict:
    """The list state as query arguments, defaults left out (so URLs stay short and bookmarkable)."""
    return {k: v for k, v in args.items()
            if v not in (None, "") and not (k == "page" and v == 1) and not (k == "tab" and v == "open")}


def index_url(args: dict, **changes) -> str:
    return url_for("escalations.index", **list_query({**args, **changes}))


def _render_index(*, errors: dict | None = None, typed: dict | None = None, status: int = 200):
    args = _list_args()
    is_head = current_user.role == Role.DEPT_HEAD
    department_id = services.scope_department(current_user, args["department"])
    choices = services.filter_choices(department_id=department_id if is_head else None)
    if is_head:
        args["department"] = None  # held to the head's own department: not a choice
    elif department_id not in {d.id for d in choices["departments"]}:
        department_id = args["department"] = None
    plan_id = args["plan"] if args["plan"] in {p.id for p in choices["plans"]} else None
    args["plan"] = plan_id
    within = {"period_id": args["period"], "year": args["year"]}
    counts = services.escalation_counts(department_id=department_id, plan_id=plan_id, **within)
    page = services.escalation_page(status=args["tab"], department_id=department_id, plan_id=plan_id, **within,
                                    page=args["page"], per_page=PER_PAGE)
    args["page"], rows = page.page, page.items
    today = local(utcnow()).date()
    cal = office_calendar() if args["tab"] == "open" and rows else None
    late = {e.id: services.days_late_now(e, today, cal) if cal else e.days_late for e in rows}
    return render_template(
        "escalations/index.html", rows=rows, late=late, counts=counts, total=page.total, args=args, page=page,
        choices=choices, index_url=index_url, close_label=services.close_label,
        can_close=current_user.can_close_escalations(), errors=errors or {}, typed=typed or {},
        head_department=current_user.department if is_head else None,
        within_label=_within_label(args),
        list_query=list_query(args),
        note_limit=services.NOTE_LIMIT,
    ), status


def _within_label(args: dict) -> str:
    """The period or year the list is held to (a link from the overview), for the line above the tabs."""
    period = db.session.get(Period, args["period"]) if args["period"] else None
    if period is not None:
        return period_name(period.key)
    return _("%(year)s 年各周期", year=args["year"]) if args["year"] else ""


@bp.get("/")
@login_required
def index():
    forbid_unless(current_user.can_list_escalations())
    return _render_index()


@bp.post("/<id:escalation_id>/close")
@login_required
def close(escalation_id: int):
    forbid_unless(current_user.can_close_escalations())
    escalation = db.get_or_404(Escalation, escalation_id)
    form = CloseForm()
    note = form.note.data or ""
    typed = {escalation.id: note}
    try:
        require_valid(form)
        services.close_escalation(escalation, note=note, actor=current_user, now=utcnow())
    except DomainError as exc:
        return _render_index(errors={escalation.id: refused(exc)}, typed=typed, status=exc.status)
    flash(_("已关闭督办事项 %(number)s（%(dept)s %(code)s）。", number=services.notice_number(escalation),
            dept=escalation.department.name, code=escalation.task.code), "success")
    return redirect(index_url(_list_args()))


# -- one escalation: its notice's 整改反馈, instructions, audit trail ---------------------------------------------

def _render_show(escalation: Escalation, *, form: FeedbackForm | None = None, status: int = 200):
    notice = escalation.notice
    if form is None and notice is not None and notice.can_give_feedback(current_user):
        form = FeedbackForm(formdata=None)
    events = list(db.session.scalars(trail(("escalation", escalation.id), ("notice", notice.id if notice else None))))
    return render_template(
        "escalations/show.html", escalation=escalation, n=services.escalation_notice(escalation), form=form,
        late=services.days_late_now(escalation, local(utcnow()).date()), close_label=services.close_label,
        instructions=instructions_on(user=current_user, escalation=escalation), trail=events,
        feedback_limit=services.FEEDBACK_LIMIT,
    ), status


@bp.get("/<id:escalation_id>")
@login_required
def show(escalation_id: int):
    return _render_show(_escalation_or_404(escalation_id))


@bp.post("/<id:escalation_id>/feedback")
@login_required
def feedback(escalation_id: int):
    escalation = _escalation_or_404(escalation_id)
    notice = escalation.notice
    if notice is None:
        abort(404)   # not numbered yet: nothing to answer (the next reminder pass numbers it)
    form = FeedbackForm()
    try:
        require_valid(form)
        services.give_feedback(notice, form.feedback.data or "", actor=current_user, now=utcnow())
    except DomainError as exc:
        refused(exc, form)
        return _render_show(escalation, form=form, status=exc.status)
    flash(_("已报送%(number)s的整改反馈。", number=notice.title), "success")
    return redirect(url_for("escalations.show", escalation_id=escalation.id, _anchor="feedback"))


# -- the 督办通知单 ------------------------------------------------------------------------------------------------

def _stamp() -> str:
    """The only line that differs between two prints of a notice: when, and by whom."""
    return _("打印：%(when)s %(who)s", when=f"{local(utcnow()):%Y-%m-%d %H:%M}", who=current_user.display)


def _notice_html(escalation: Escalation, *, for_pdf: bool) -> str:
    """The page follows the reader's language; the PDF is an official document, in Chinese."""
    with chinese() if for_pdf else nullcontext():
        notice = services.escalation_notice(escalation)
        return render_template("pdf/notice.html", n=notice, for_pdf=for_pdf, stamp=_stamp(),
                               can_close=escalation.can_close(current_user))


@bp.get("/<id:escalation_id>/notice")
@login_required
def notice(escalation_id: int):
    escalation = _escalation_or_404(escalation_id)
    return _notice_html(escalation, for_pdf=False)


@bp.get("/<id:escalation_id>/notice.pdf")
@login_required
@limit("PDF_RATE_LIMIT")
def notice_pdf(escalation_id: int):
    escalation = _escalation_or_404(escalation_id)
    notice = services.escalation_notice(escalation)
    try:
        data = render_pdf(_notice_html(escalation, for_pdf=True))
    except PdfUnavailable as exc:
        current_app.logger.warning("notice PDF unavailable: %s", exc.message)
        return render_template("escalations/pdf_unavailable.html", escalation=escalation, message=exc.message,
                               notice=notice, font_missing=exc.message == FONT_MESSAGE), 503
    except PdfError as exc:
        current_app.logger.error("notice PDF failed: %s", exc.message)
        return render_template("escalations/pdf_unavailable.html", escalation=escalation, message=exc.message,
                               notice=notice), 500
    response = current_app.response_class(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = content_disposition(notice["filename"])
    response.headers["Cache-Control"] = "private, no-store"
    return response
