"""The 台账 page's filters: a GET form (no CSRF token), so a filtered ledger and its download can be bookmarked."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from forms import BaseForm


class LedgerFilterForm(BaseForm):
    class Meta:
        csrf = False

    plan = SelectField(_l("实施方案"), choices=[], validate_choice=False)
    area = SelectField(_l("领域"), choices=[], validate_choice=False)
    department = SelectField(_l("牵头单位"), choices=[], validate_choice=False)
    period = SelectField(_l("报送周期"), choices=[], validate_choice=False)
