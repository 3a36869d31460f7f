"""The Flask application factory."""
from __future__ import annotations

import os
import sqlite3
from decimal import ROUND_HALF_UP, Decimal

from flask import Flask, g, has_request_context, request, session
from flask_babel import lazy_gettext
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from models.base import render_migration_type
from workflow import i18n
from workflow.calendar.periods import period_name
from workflow.config import BASE_DIR, Config
from workflow.escalations import effects as escalation_effects  # noqa: F401  (registers its transition effects with the package)
from workflow.extensions import babel, bootstrap, csrf, db, limiter, login_manager, migrate
from workflow.search import schema as search_schema
from workflow.security import init_headers, init_proxies, init_secret_key


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, _record):
    """SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked, per connection."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA foreign_keys=ON")


def select_locale() -> str:
    """The session's or the signed-in user's choice in a request; in the API, which has neither, the token's
    user's choice, else the request's Accept-Language; Chinese elsewhere (CLI, scheduler, tests) and by default."""
    if not has_request_context():
        return "zh_Hans_CN"
    chosen = session.get("locale") or getattr(current_user, "locale", None)
    if not chosen and request.blueprint == "api":
        chosen = getattr(g.get("api_user"), "locale", None) or {"en": "en"}.get(
            request.accept_languages.best_match(["zh", "en"]) or "")
    return chosen or "zh_Hans_CN"


def create_app(config: type | dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=str(BASE_DIR / "instance"),
    )
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    os.makedirs(app.instance_path, exist_ok=True)
    init_secret_key(app)
    init_headers(app)
    init_proxies(app)

    import models  # noqa: F401  (registers every table with the metadata)
    from workflow.converters import IdConverter

    app.url_map.converters["id"] = IdConverter
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True, compare_type=True,
                    render_item=render_migration_type, include_name=search_schema.include_name)
    csrf.init_app(app)
    import workflow.ratelimits  # noqa: F401  (registers the database:// storage scheme with `limits`)

    limiter.init_app(app)
    bootstrap.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(BASE_DIR / "translations"))
    i18n.install(app.jinja_env)
    _init_login(app)
    _register_blueprints(app)
    _register_template_helpers(app)

    from workflow import replica

    replica.init_app(app)

    from workflow.cli import register_cli
    from workflow.errors import register_error_handlers

    register_cli(app)
    register_error_handlers(app)
    return app


def _init_login(app: Flask) -> None:
    from models import User

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("请先登录。")
    login_manager.login_message_category = "warning"

    @login_manager.user_loader
    def load_user(user_id: str):
        """The session's "id:epoch" (User.get_id): a stale epoch, a bare id or an inactive user loads nobody."""
        uid, _sep, epoch = user_id.partition(":")
        if not (uid.isdigit() and epoch.isdigit()):
            return None
        user = db.session.get(User, int(uid))
        if user is None or not user.active or user.session_epoch != int(epoch):
            return None
        return user


def _register_blueprints(app: Flask) -> None:
    from workflow.account.views import bp as account_bp
    from workflow.admin.mailbox import bp as mailbox_bp
    from workflow.admin.views import bp as admin_bp
    from workflow.api.views import bp as api_bp
    from workflow.assignments.views import bp as assignments_bp
    from workflow.auth.views import bp as auth_bp
    from workflow.bulletins.views import bp as bulletins_bp
    from workflow.dashboard.views import bp as dashboard_bp
    from workflow.escalations.views import bp as escalations_bp
    from workflow.evaluation.views import bp as evaluation_bp
    from workflow.extension_requests.views import bp as extension_requests_bp
    from workflow.instructions.views import bp as instructions_bp
    from workflow.jobs.views import bp as jobs_bp
    from workflow.ledger.views import bp as ledger_bp
    from workflow.overview.views import bp as overview_bp
    from workflow.plans.views import bp as plans_bp
    from workflow.reports.views import bp as reports_bp
    from workflow.review.views import bp as review_bp
    from workflow.search.views import bp as search_bp
    from workflow.settings.views import bp as settings_bp
    from workflow.targets.views import bp as targets_bp
    from workflow.tasks.views import bp as tasks_bp

    for bp in (auth_bp, dashboard_bp, plans_bp, assignments_bp, reports_bp, review_bp, admin_bp, mailbox_bp,
               account_bp, api_bp, escalations_bp, settings_bp, evaluation_bp, search_bp, ledger_bp,
               bulletins_bp, instructions_bp, overview_bp, targets_bp, tasks_bp, extension_requests_bp,
               jobs_bp):
        app.register_blueprint(bp)


def _register_template_helpers(app: Flask) -> None:
    from markupsafe import Markup

    from models.plan import target_label
    from pdf.charts import sparkline as draw_sparkline
    from workflow.clock import local
    from workflow.labels import item_status, label

    app.add_template_global(label)
    app.add_template_global(item_status)

    @app.template_global()
    def sparkline(points, due=None, colour="#1565c0", title=""):
        """A target's trend inline in a page (pdf.charts.sparkline): (label, value) points, oldest first."""
        return Markup(draw_sparkline([(str(k), float(v)) for k, v in points], due=due, colour=colour, title=title))

    @app.template_filter("period_name")
    def period_name_filter(period) -> str:
        """A period (or its key) named in the reader's language; its stored label is the Chinese documents'."""
        return period_name(getattr(period, "key", period)) if period is not None else ""

    @app.template_filter("localtime")
    def localtime(dt, fmt: str = "%Y-%m-%d %H:%M"):
        return local(dt).strftime(fmt) if dt else ""

    from workflow.settings.views import calendar_banner_context

    app.context_processor(calendar_banner_context)

    @app.template_filter("figure")
    def figure(value) -> str:
        """A target's value as people write it: at most two decimals, no trailing zeros (82.33, 785, 5.7)."""
        if value is None:
            return "—"
        number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
        return format(number + 0, "f")   # + 0: -0 → 0

    @app.template_filter("target_label")
    def target_label_filter(target) -> str:
        return target_label(target.comparator, target.value, target.unit)

    @app.context_processor
    def inject_globals():
        from workflow.notify import unread_count, unread_label

        if not has_request_context():  # emails and PDFs rendered by the scheduler or the CLI
            return {}
        unread = unread_count(current_user) if current_user.is_authenticated else 0
        return {"current_locale": select_locale(), "request_path": request.path, "unread_count": unread,
                "unread_label": unread_label(unread)}
