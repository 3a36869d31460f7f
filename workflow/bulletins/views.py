"""情况通报 pages: everyone reads the published bulletins and their files; the office opens, edits and publishes
them, leaders read the drafts too. Thin: each POST validates, calls one service, flashes and redirects; a
refusal re-renders the page with what was typed (422 field errors, 409 conflicts)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from forms.bulletins import BulletinTextForm, OpenBulletinForm, PublishBulletinForm
from forms.review import select_choices
from models import Bulletin, Plan, PlanStatus
from pdf.render import FONT_MESSAGE, PdfError, PdfUnavailable
from workflow.bulletins import archive, background, documents, services
from workflow.calendar.periods import Cadence, period_for
from workflow.clock import local, utcnow
from workflow.converters import id_arg, page_arg, parse_id, parse_version
from workflow.domain import DomainError, ValidationFailed
from workflow.errors import forbid_unless, refused, require_valid
from workflow.extensions import db
from workflow.files import content_disposition
from workflow.pagination import paginate
from workflow.security import limit

bp = Blueprint("bulletins", __name__, url_prefix="/bulletins")

PER_PAGE = 20


def _published_plans() -> list[Plan]:
    return list(db.session.scalars(select(Plan).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id)))


def _render_index(form: OpenBulletinForm | None = None, status: int = 200):
    plans = _published_plans() if current_user.can_manage_bulletins() else []
    if form is None:
        form = OpenBulletinForm(formdata=None)
        form.period.data = period_for(Cadence.QUARTERLY, local(utcnow()).date())
    form.plan.choices = select_choices((p.id, p.title) for p in plans)
    plan_id = id_arg("plan")
    page = paginate(services.visible_bulletins(current_user, plan_id=plan_id), page=page_arg(), per_page=PER_PAGE)
    return render_template("bulletins/index.html", page=page, form=form, plans=plans,
                           args={"plan": plan_id} if plan_id else {},
                           can_manage=current_user.can_manage_bulletins()), status


@bp.get("/")
@login_required
def index():
    return _render_index()[0]


@bp.post("/")
@login_required
def open_bulletin():
    forbid_unless(current_user.can_manage_bulletins())
    form = OpenBulletinForm()
    plan_id = parse_id(form.plan.data)
    plan = db.session.get(Plan, plan_id) if plan_id else None
    try:
        require_valid(form)
        if plan is None:
            raise ValidationFailed({"plan": _("请选择实施方案。")})
        bulletin = services.open_bulletin(plan, form.period.data or "", actor=current_user, now=utcnow())
    except DomainError as exc:
        refused(exc, form)
        return _render_index(form, exc.status)
    return redirect(url_for("bulletins.show", bulletin_id=bulletin.id))


def _bulletin_or_404(bulletin_id: int) -> Bulletin:
    bulletin = db.get_or_404(Bulletin, bulletin_id)
    forbid_unless(bulletin.can_view(current_user))
    return bulletin


def _render_show(bulletin: Bulletin, *, text_form: BulletinTextForm | None = None, status: int = 200):
    data = services.content(bulletin, now=utcnow())
    if text_form is None and bulletin.can_edit(current_user):
        text_form = BulletinTextForm(formdata=None, lead=bulletin.lead, next_steps=bulletin.next_steps,
                                     version=bulletin.version)
    return render_template("bulletins/show.html", bulletin=bulletin, text_form=text_form,
                           publish_form=PublishBulletinForm(formdata=None, version=bulletin.version),
                           can_edit=bulletin.can_edit(current_user), **documents.helpers(data)), status


@bp.get("/<id:bulletin_id>")
@login_required
def show(bulletin_id: int):
    return _render_show(_bulletin_or_404(bulletin_id))[0]


@bp.post("/<id:bulletin_id>")
@login_required
def save(bulletin_id: int):
    bulletin = _bulletin_or_404(bulletin_id)
    forbid_unless(current_user.can_manage_bulletins())
    form = BulletinTextForm()
    try:
        services.update_text(bulletin, lead=form.lead.data, next_steps=form.next_steps.data, actor=current_user,
                             now=utcnow(), version=parse_version(form.version.data))
    except DomainError as exc:
        refused(exc, form)
        return _render_show(bulletin, text_form=form, status=exc.status)
    flash(_("已保存。"), "success")
    return redirect(url_for("bulletins.show", bulletin_id=bulletin.id))


@bp.post("/<id:bulletin_id>/publish")
@login_required
@limit("PDF_RATE_LIMIT")
def publish(bulletin_id: int):
    bulletin = _bulletin_or_404(bulletin_id)
    forbid_unless(current_user.can_manage_bulletins())
    form = PublishBulletinForm()
    try:
        if background.runs_in_background(bulletin):
            job = background.request_publish(bulletin, actor=current_user, version=parse_version(form.version.data),
                                             now=utcnow())
            return redirect(url_for("jobs.show", job_id=job.id))
        services.publish(bulletin, actor=current_user, now=utcnow(), version=parse_version(form.version.data))
    except DomainError as exc:
        refused(exc)
        return _render_show(bulletin, status=exc.status)
    except PdfError as exc:
        return _pdf_failed(bulletin, exc)
    flash(_("已发布 %(number)s，并已通知各单位负责人和领导。", number=bulletin.number_label), "success")
    return redirect(url_for("bulletins.show", bulletin_id=bulletin.id))


@bp.get("/<id:bulletin_id>/file.<any(pdf, docx):kind>")
@login_required
@limit("PDF_RATE_LIMIT")
def download(bulletin_id: int, kind: str):
    """The archived file of a published bulletin; a draft's is rendered now, with its 草稿 mark."""
    bulletin = _bulletin_or_404(bulletin_id)
    try:
        data, _pages, filename = services.document(bulletin, kind, now=utcnow())
    except FileNotFoundError:
        abort(404)
    except PdfError as exc:
        return _pdf_failed(bulletin, exc)
    response = current_app.response_class(data, mimetype=archive.MIMETYPES[kind])
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _pdf_failed(bulletin: Bulletin, exc: PdfError):
    db.session.rollback()
    current_app.logger.warning("bulletin PDF failed: %s", exc.message)
    return render_template("bulletins/pdf_unavailable.html", message=exc.message,
                           font_missing=exc.message == FONT_MESSAGE,
                           back=url_for("bulletins.show", bulletin_id=bulletin.id)), (
        503 if isinstance(exc, PdfUnavailable) else 500)

