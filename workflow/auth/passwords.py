"""What a new password must satisfy, one rule for the admin form, the CLI and the user's own change."""
from __future__ import annotations

MIN_PASSWORD = 8


def password_problem(password: str) -> str | None:
    """The reason the password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 位。"
    return None
