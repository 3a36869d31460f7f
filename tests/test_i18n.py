"""The English catalog: the language switch shows English, every message has a translation, and the catalog
covers every string the sources mark for translation (so a new _('…') without an English line fails here)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from models import Role

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo"
# Han characters and CJK punctuation (、。：（） and the like).
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff01-\uff5e]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.fixture(autouse=True)
def forget_cached_locale(app):
    """Flask-Babel caches the locale on `g`; the tests share one app context across requests (see conftest's
    forget_cached_user), so drop it for each request as production's per-request context does."""
    from flask import g

    @app.before_request
    def _forget():
        g.pop("_flask_babel", None)


@pytest.fixture(scope="module")
def po():
    with PO.open("rb") as f:
        return read_po(f, locale="en")


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _switch_to_english(client) -> None:
    response = client.post("/lang/en", data={"next": "/login"})
    assert response.status_code == 302


def test_login_page_is_chinese_by_default(client):
    html = _page(client, "/login")
    assert 'lang="zh-CN"' in html
    assert "登录" in html
    assert "Log in" not in html


def test_language_switch_shows_the_english_login_page(client):
    _switch_to_english(client)
    html = _page(client, "/login")
    assert 'lang="en"' in html
    assert "Log in to the Supervision System" in html
    assert 'value="Log in"' in html                      # the submit button
    assert "登录" not in html
    # Only the switch back names its language in Chinese.
    assert not CJK.search(html.replace("中文", "")), CJK.findall(html)


def test_switching_back_to_chinese(client):
    _switch_to_english(client)
    client.post("/lang/zh_Hans_CN", data={"next": "/login"})
    html = _page(client, "/login")
    assert 'lang="zh-CN"' in html and "登录督办系统" in html


def test_office_plan_list_in_english_has_no_chinese_labels(client, login_as):
    login_as(Role.OFFICE)
    _page(client, "/plans/")    # shows (and so drops) login_as's leftover flash, queued in Chinese
    _switch_to_english(client)
    html = _page(client, "/plans/")
    nav = html[html.index("<nav"):html.index("</nav>")]
    for chinese, english in (("实施方案", "Plans"), ("审核", "Review"), ("消息", "Messages"), ("退出", "Log out"),
                             ("督办系统", "Supervision System")):
        assert chinese not in nav
        assert english in nav
    assert "No plans have been imported yet." in html
    assert not CJK.search(html.replace("中文", "")), CJK.findall(html)


def test_every_message_has_an_english_translation(po):
    messages = [m for m in po if m.id]
    assert len(messages) > 300
    for m in messages:
        assert isinstance(m.id, str), f"plural message not expected: {m.id}"
        assert m.string and m.string.strip(), f"untranslated: {m.id}"
        assert not m.fuzzy, f"fuzzy: {m.id}"
        assert not CJK.search(m.string.replace("“、”", "")), f"Chinese left in the translation of {m.id}: {m.string}"
        assert sorted(PLACEHOLDER.findall(m.string)) == sorted(PLACEHOLDER.findall(m.id)), m.id


def test_compiled_catalog_matches_the_po(po):
    """The .mo the app loads is compiled from the current .po (run `pybabel compile -d translations`)."""
    with MO.open("rb") as f:
        mo = read_mo(f)
    compiled = {m.id: m.string for m in mo if m.id}
    assert compiled == {m.id: m.string for m in po if m.id}


def test_catalog_covers_every_marked_string_in_the_sources(po):
    """Extract with the project's babel.cfg and keywords, as `pybabel extract -F babel.cfg -k _l -k lazy_gettext`
    does. A failure lists the strings to add: pybabel extract …, pybabel update -d translations, translate,
    pybabel compile -d translations."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    extracted = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        msgid = message[0] if isinstance(message, tuple) else message
        extracted.setdefault(msgid, f"{filename}:{lineno}")
    assert len(extracted) > 300
    missing = {msgid: where for msgid, where in extracted.items() if msgid not in po or not po[msgid].string}
    assert not missing, f"not in the English catalog: {missing}"
