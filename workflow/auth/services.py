"""Authentication: checking credentials without telling an attacker which half was wrong."""
from sqlalchemy import select

from models import User
from workflow.extensions import db


def authenticate(username: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not user.check_password(password):
        return None
    return user
