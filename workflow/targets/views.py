"""The indicator tracker page (指标), /targets/: a plan's targets with their latest values, what is due this year,
their trend and whether they are on track; filtered by area and department, off track first, paginated."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user, login_required

from models import Plan
from workflow.clock import local, utcnow
from workflow.converters import id_arg, page_arg
from workflow.extensions import db
from workflow.pagination import paginate_list
from workflow.targets import services

bp = Blueprint("targets", __name__, url_prefix="/targets")

PER_PAGE = 50


@bp.get("/")
@login_required
def index():
    """Everyone signed in: the office, leaders and admins see every row, a department its own (the service)."""
    plans = services.tracker_plans()
    plan_id = id_arg("plan")
    plan = (db.session.get(Plan, plan_id) or abort(404)) if plan_id else (plans[0] if plans else None)
    now = utcnow()
    result = services.tracker([plan] if plan else [], user=current_user, year=local(now).year,
                              area=request.args.get("area") or None, department_id=id_arg("department"))
    page = paginate_list(result.rows, page=page_arg(), per_page=PER_PAGE)
    args = {k: v for k, v in {"plan": plan_id, "area": result.area, "department": result.department_id}.items() if v}
    return render_template("targets/index.html", plan=plan, plans=plans, tracker=result, page=page, args=args,
                           year=local(now).year, reset_url=url_for("targets.index", plan=plan_id))
