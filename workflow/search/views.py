"""搜索: the results page behind the navbar's search box (a GET form, so it works without JavaScript)."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from workflow.converters import page_arg
from workflow.search import services

bp = Blueprint("search", __name__)


@bp.route("/search")
@login_required
def index():
    q, kind = request.args.get("q", ""), request.args.get("kind") or None
    results = services.search(current_user, q, page=page_arg(), kind=kind)
    return render_template("search/index.html", results=results, q=q, kinds=services.KINDS)
