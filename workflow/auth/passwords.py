"""What a new password must satisfy: one rule for the admin form and the user's own change.

Strength is zxcvbn's estimate of guesses (score 0–4, which already knows keyboard runs, repeats, dates and
l33t); the office and admins, whose accounts approve reports and manage users, need a stronger password and
one that is not on zxcvbn's list of the most common (breached) passwords."""
from __future__ import annotations

from flask_babel import gettext as _
from zxcvbn import zxcvbn

from models import Role

MIN_PASSWORD = 8
MIN_SCORE = 2
MIN_SCORE_PRIVILEGED = 3
PRIVILEGED_ROLES = (Role.OFFICE, Role.ADMIN)
SCORED_LENGTH = 100  # zxcvbn's cost grows with length; beyond this a password is long enough anyway


def password_problem(password: str, role: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """The reason the password is refused, or None; user_inputs (username, name) count as guessable."""
    if len(password) < MIN_PASSWORD:
        return _("密码至少 %(n)d 位。", n=MIN_PASSWORD)
    privileged = role in PRIVILEGED_ROLES
    result = zxcvbn(password[:SCORED_LENGTH], user_inputs=[u for u in user_inputs if u])
    if privileged and any(m.get("dictionary_name") == "passwords" and len(m["token"]) == len(password)
                          for m in result["sequence"]):
        return _("密码是常见密码（在泄露密码表中），请换一个。")
    if result["score"] < (MIN_SCORE_PRIVILEGED if privileged else MIN_SCORE):
        return _("密码太容易被猜中：请用更长、不常见的词语组合，不要用连续或重复的字符、日期或用户名。")
    return None
