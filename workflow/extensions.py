"""Extensions created without an app, bound in create_app()."""
from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from models.base import db

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()
limiter = Limiter(get_remote_address)  # per address; routes add a per-user key (workflow/security.py)

__all__ = ["babel", "bootstrap", "csrf", "db", "limiter", "login_manager", "migrate"]
