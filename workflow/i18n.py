"""The request's translations, looked up once: what pages that name many things translate through.

flask_babel.gettext finds the request's locale and catalogue again on every call, through Flask's context
proxies (~30 µs a call on this machine): the department home named some 3,000 statuses, weekdays and periods a
render and spent ~100 ms on the lookups alone. `translations()` looks the catalogue up once and keeps it in
Flask-Babel's own per-context slot (`babel_translations`, beside the locale it caches there), the slot that
`force_locale()` empties and restores around its block and `refresh()` drops: a forced locale (emails in the
recipient's language, Chinese documents) and a language switch read exactly what flask_babel.gettext would.

The templates' `_()`, the name registry (workflow.labels) and the period names
(workflow.calendar.periods) translate through it; a module translating a few messages a request may keep
flask_babel's functions, which give the same text.
"""
from __future__ import annotations

from babel.support import NullTranslations
from flask import g
from flask_babel import get_translations
from flask_babel.speaklater import LazyString
from jinja2 import Environment


def translations() -> NullTranslations:
    """The catalogue of the locale active now (Flask-Babel's choice), bound to the app context once."""
    try:
        bound = g._flask_babel.babel_translations
    except (AttributeError, RuntimeError):   # not bound yet in this context; no app context at all
        bound = None
    if bound is None:
        bound = get_translations()   # makes Flask-Babel's state in an app context
        if g:
            g._flask_babel.babel_translations = bound
    return bound


def gettext(string: str, **variables) -> str:
    """flask_babel.gettext through the bound catalogue."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def lazy_gettext(string: str, **variables) -> LazyString:
    """A name translated when shown, in the locale active then (flask_babel.lazy_gettext's string)."""
    return LazyString(gettext, string, **variables)


def install(env: Environment) -> None:
    """The templates' gettext callables (Flask-Babel installs its own, which look the catalogue up each call)."""
    env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    # `_()` is Jinja's alias that looks `gettext` up in the context at every call, so that a render may override
    # it; nothing here does, so it is the installed gettext itself (one call fewer per message).
    env.globals["_"] = env.globals["gettext"]
