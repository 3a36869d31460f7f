"""Configuration read from the environment, so one build runs in every deployment."""
import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _sqlite_default() -> str:
    instance = BASE_DIR / "instance"
    return f"sqlite:///{instance / 'workflow.sqlite'}"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _number(name: str, default: int) -> int:
    """A numeric setting; a bad value falls back to the default (the outbox records the failure instead)."""
    try:
        return int(os.environ.get(name) or default)
    except ValueError:
        return default


class Config:
    # Without SECRET_KEY a random key is generated once into SECRET_KEY_FILE (workflow/security.py).
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SECRET_KEY_FILE = os.environ.get("SECRET_KEY_FILE", str(BASE_DIR / "instance" / "secret_key"))
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or _sqlite_default()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    TIMEZONE = os.environ.get("TZ_DISPLAY", "Asia/Shanghai")
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ["zh_Hans_CN", "en"]
    BOOTSTRAP_SERVE_LOCAL = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = timedelta(days=_number("REMEMBER_COOKIE_DAYS", 30))
    # Strict-Transport-Security max-age; set (e.g. 31536000) only when every request arrives over TLS.
    HSTS_SECONDS = _number("HSTS_SECONDS", 0)
    # Rate limits (Flask-Limiter notation), each per client address and per user; RATELIMIT_STORAGE_URI is
    # where the counts live: redis://host:6379 in production (memory:// counts per process, docs/security.md).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "20 per 10 minutes")
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")
    PDF_RATE_LIMIT = os.environ.get("PDF_RATE_LIMIT", "10 per minute")
    # Consecutive wrong passwords that lock an account, and for how long (an admin can unlock sooner).
    LOGIN_MAX_FAILURES = _number("LOGIN_MAX_FAILURES", 10)
    LOGIN_LOCKOUT_MINUTES = _number("LOGIN_LOCKOUT_MINUTES", 15)
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 20 * 1024 * 1024))
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(BASE_DIR / "instance" / "uploads"))
    DEMO_PLAN_PATH = str(BASE_DIR / "data" / "plans" / "fushun-carbon-peak-plan.txt")
    DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo1234")
    # Email (CONTRACT.md): without MAIL_SERVER nothing leaves the machine; the admin reads the mailbox page.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _number("MAIL_PORT", 25)
    MAIL_USE_TLS = _flag("MAIL_USE_TLS")
    MAIL_USE_SSL = _flag("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "督办系统 <noreply@localhost>")
    MAIL_MAX_ATTEMPTS = _number("MAIL_MAX_ATTEMPTS", 5)
    MAIL_TIMEOUT = _number("MAIL_TIMEOUT", 10)
    MAIL_DIGEST_MAX_ITEMS = _number("MAIL_DIGEST_MAX_ITEMS", 100)
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    OFFICE_NAME = os.environ.get("OFFICE_NAME", "领导小组办公室")


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test"
    WTF_CSRF_ENABLED = False
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    MAIL_SERVER = None  # tests that send mail start their own SMTP server and set it
    # Tests log in and call the API far more often than people; tests of the limits set the production values.
    LOGIN_RATE_LIMIT = "10000 per minute"
    API_RATE_LIMIT = "100000 per minute"
    PDF_RATE_LIMIT = "10000 per minute"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashing keeps account-heavy tests quick; never in production
