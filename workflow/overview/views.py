"""总览 pages: a plan's overview (the start page of the office, leaders and admins), the task list behind its
numbers, and the office's light thresholds. Everyone else gets 403: a department's people never see other
departments' figures (their start page is their own department's)."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from forms.overview import LightRulesForm, TaskFilterForm
from models import Plan
from pdf.charts import stacked_status_chart
from workflow.assignments.services import open_all_due_periods
from workflow.clock import utcnow
from workflow.converters import page_arg, parse_id
from workflow.domain import ValidationFailed
from workflow.errors import forbid_unless, refused, require_valid
from workflow.extensions import db
from workflow.labels import label
from workflow.overview import services
from workflow.overview.lights import DEFAULT_RULES, LIGHTS
from workflow.pagination import paginate_list

bp = Blueprint("overview", __name__, url_prefix="/overview")

PER_PAGE = 50
TABLE_SCOPES = ("period", "year")
LIGHT_COLOURS = {"red": ("#dc3545", "#fff"), "yellow": ("#ffc107", "#212529"), "green": ("#198754", "#fff"),
                 "grey": ("#adb5bd", "#212529"), "done": ("#0d6efd", "#fff")}
# Sortable columns of the per-area and per-department tables.
COLUMNS = ("name", "tasks", *map(str, LIGHTS), "reports", *services.REPORT_STATES, "missing", "escalations")


def column_value(row, key: str):
    f = row.figures
    return {"name": row.name, "tasks": f.task_total, "reports": f.report_total, "missing": f.contributions_missing,
            "escalations": f.escalations[3]}.get(key, f.tasks.get(key, f.reports.get(key)))


def _plan_or_404(plan_id: int) -> Plan:
    forbid_unless(current_user.sees_everything)
    plan = db.session.get(Plan, plan_id) or abort(404)
    forbid_unless(plan.visible_to(current_user))
    return plan


def _sort(rows: list, spec: str | None) -> tuple[list, str]:
    """Rows ordered by `spec` ('red' ascending, '-red' descending; unknown → as given); ties keep their order."""
    key = (spec or "").lstrip("-")
    if key not in COLUMNS:
        return rows, ""
    return sorted(rows, key=lambda row: column_value(row, key), reverse=spec.startswith("-")), spec


def _chart(rows) -> str:
    legend = {light: (label("light", light), *LIGHT_COLOURS[light]) for light in LIGHTS}
    shown = [(f"{r.key} {r.name}" if isinstance(r.key, str) and r.key else r.name, r.figures.tasks)
             for r in rows if r.figures.task_total]
    return stacked_status_chart(shown, legend) if shown else ""


def number(n, href: str, cls: str = "", *, linked: bool = True) -> Markup:
    """A count linking to the list behind it (`linked` false: the bare count). A function, not a Jinja macro:
    the department table prints one per cell, and a macro call cost more than the rest of the cell."""
    if not linked:
        return Markup(escape(n))
    zero = " num-zero" if not n else ""
    return Markup(f'<a href="{escape(href)}" class="num{zero} {escape(cls or "")}">{escape(n)}</a>')


URL_SAFE = "!$'()*,/:;?@"   # what werkzeug leaves unquoted in a query (werkzeug.urls._urlencode)


class Links:
    """The list behind each number, with the number's filter: the review queue for reports, the escalation
    list for open 督办, the overview's task list for the rest."""

    REPORT_FILTERS = {"not_due": {"status": "draft", "due": "not_due"},
                      "due_soon": {"status": "draft", "due": "due_soon"},
                      "overdue": {"status": "draft", "overdue": "y"}}

    def __init__(self, overview: services.Overview):
        self.o = overview
        self._routes: dict[tuple, str] = {}
        self._pairs: dict[tuple, str] = {}

    def _url(self, endpoint: str, path: dict, query: dict) -> str:
        """What url_for answers, with each route built once and each query pair encoded once: the department
        table links every number of every row, and url_for per link was most of the page's time on a province."""
        key = (endpoint, *path.items())
        route = self._routes.get(key) or self._routes.setdefault(key, url_for(endpoint, **path))
        pairs = []
        for pair in query.items():
            if pair[1] is not None:
                encoded = self._pairs.get(pair) or self._pairs.setdefault(pair, urlencode([pair], safe=URL_SAFE))
                pairs.append(encoded)
        return f"{route}?{'&'.join(pairs)}" if pairs else route

    def _within(self, scope: str) -> dict:
        if scope == "period":
            return {"period": self.o.period.key} if self.o.period else {}
        return {"year": self.o.year}

    def reports(self, state: str, scope: str, *, department: int | None = None, area: str | None = None) -> str:
        args = self.REPORT_FILTERS.get(state, {"status": state})
        return self._url("review.queue", {}, {"plan": self.o.plan.id, **args, **self._within(scope),
                                              "department": department, "area": area or None})

    def escalations(self, scope: str, *, department: int | None = None) -> str:
        within = {"period": self.o.period.id} if scope == "period" and self.o.period else {"year": self.o.year}
        return self._url("escalations.index", {}, {"plan": self.o.plan.id, **within, "department": department})

    def tasks(self, scope: str, **filters) -> str:
        args = {k: v for k, v in filters.items() if v not in (None, "")}
        return self._url("overview.tasks", {"plan_id": self.o.plan.id}, {"scope": scope, **args})


def _render(plan: Plan, *, form: LightRulesForm | None = None, status: int = 200):
    now = utcnow()
    open_all_due_periods(now=now)
    overview = services.compute(plan, now=now, scopes=TABLE_SCOPES)
    scope = request.args.get("scope") if request.args.get("scope") in TABLE_SCOPES else "year"
    areas, area_sort = _sort(overview.areas[scope], request.args.get("asort"))
    departments, dept_sort = _sort(overview.departments[scope], request.args.get("dsort", "-red"))
    if form is None:
        form = LightRulesForm(formdata=None, data={k: str(v) for k, v in overview.rules.__dict__.items()})
    args = {k: v for k, v in request.args.items() if k in ("scope", "asort", "dsort")}
    return render_template(
        "overview/show.html", plan=plan, o=overview, plans=services.published_plans(), scope=scope, args=args,
        areas=areas, departments=departments, area_sort=area_sort, dept_sort=dept_sort,
        area_chart=_chart(areas), department_chart=_chart(departments), form=form,
        can_edit=current_user.can_edit_light_rules(), defaults=DEFAULT_RULES, lights=LIGHTS,
        report_states=services.REPORT_STATES, target_states=services.TARGET_STATES, colours=LIGHT_COLOURS,
        links=Links(overview), columns=COLUMNS, num=number,
    ), status


@bp.get("/")
@login_required
def index():
    """The latest published plan's overview (the start page); a selector offers the others."""
    forbid_unless(current_user.sees_everything)
    plans = services.published_plans()
    chosen = parse_id(request.args.get("plan"))
    if chosen:
        return redirect(url_for("overview.show", plan_id=chosen))
    if not plans:
        return render_template("overview/none.html")
    return _render(plans[0])


@bp.get("/plans/<id:plan_id>")
@login_required
def show(plan_id: int):
    return _render(_plan_or_404(plan_id))


@bp.post("/plans/<id:plan_id>/lights")
@login_required
def light_rules(plan_id: int):
    forbid_unless(current_user.can_edit_light_rules())
    plan = _plan_or_404(plan_id)
    form = LightRulesForm()
    try:
        require_valid(form)
        services.set_light_rules(plan, None if form.reset.data else form.values(), actor=current_user, now=utcnow())
    except ValidationFailed as exc:
        refused(exc, form)
        return _render(plan, form=form, status=exc.status)
    flash(_("已恢复默认亮灯规则。") if form.reset.data else _("亮灯规则已保存。"), "success")
    return redirect(url_for("overview.show", plan_id=plan.id) + "#light-rule")


@bp.get("/plans/<id:plan_id>/tasks")
@login_required
def tasks(plan_id: int):
    """The tasks behind a number of the overview: by light, contributions missing, ladder level, open 督办 or
    target state, in the period or the year, for an area or a department."""
    plan = _plan_or_404(plan_id)
    now = utcnow()
    open_all_due_periods(now=now)
    form = TaskFilterForm(formdata=request.args)
    scope = form.scope.data if form.scope.data in services.SCOPES else "year"
    overview = services.compute(plan, now=now, scopes=(scope,))
    form.area.choices = [("", _("全部领域"))] + [(code, f"{code} {title}") for code, title in overview.area_titles.items()]
    form.department.choices = [("", _("全部单位"))] + sorted(
        ((str(i), name) for i, name in overview.department_names.items()), key=lambda pair: pair[1])
    selection = services.TaskSelection.of(form.data, areas=overview.area_titles,
                                          departments=overview.department_names)
    form.process(data=selection.form_data())
    lines, total = services.select_tasks(overview, selection)
    page = paginate_list(lines, page=page_arg(), per_page=PER_PAGE)
    return render_template("overview/tasks.html", plan=plan, o=overview, form=form, s=selection, rows=page.items,
                           page=page, total=total, tasks_found=len(lines),
                           page_args={k: v for k, v in selection.form_data().items() if v}, colours=LIGHT_COLOURS,
                           links=Links(overview))
