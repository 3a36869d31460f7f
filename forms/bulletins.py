"""The 情况通报 forms: opening one (plan and period), the office's two paragraphs, publishing."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField, TextAreaField

from forms import BaseForm


class OpenBulletinForm(BaseForm):
    plan = SelectField(_l("实施方案"), choices=[], validate_choice=False)
    period = StringField(_l("通报期间"), render_kw={"placeholder": "2026Q3", "maxlength": 10})


class BulletinTextForm(BaseForm):
    """Lengths are the service's to check (workflow.bulletins.services.TEXT_LIMIT), so every surface says the
    same; the version guards against a second editor."""

    lead = TextAreaField(_l("导语"), render_kw={"rows": 5})
    next_steps = TextAreaField(_l("下一步工作"), render_kw={"rows": 6})
    version = HiddenField()


class PublishBulletinForm(BaseForm):
    version = HiddenField()
