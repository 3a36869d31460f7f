"""Configuration read from the environment, so one build runs in every deployment."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app

BASE_DIR = Path(__file__).resolve().parent.parent


def _sqlite_default() -> str:
    instance = BASE_DIR / "instance"
    return f"sqlite:///{instance / 'workflow.sqlite'}"


def _as_flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _flag(name: str) -> bool:
    return _as_flag(os.environ.get(name, ""))


def _number(name: str, default: int) -> int:
    """A numeric setting; a bad value falls back to the default (the outbox records the failure instead)."""
    try:
        return int(os.environ.get(name) or default)
    except ValueError:
        return default


DEFAULT_SENDER = "督办系统 <noreply@localhost>"
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DEFAULT_SMS_TEMPLATE = "【督办系统】{text}"
SMS_MAX_CHARS = 70   # one SMS segment of Chinese text; longer ones are split and billed as several


class Config:
    # Without SECRET_KEY a random key is generated once into SECRET_KEY_FILE (workflow/security.py).
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SECRET_KEY_FILE = os.environ.get("SECRET_KEY_FILE", str(BASE_DIR / "instance" / "secret_key"))
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or _sqlite_default()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # A PostgreSQL streaming replica for the heavy read pages (workflow/replica.py); unset: all reads on the primary.
    DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL") or None
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
    # Reverse proxies in front (nginx: 1) whose X-Forwarded-For/-Proto/-Host are believed: the client's address
    # (rate limits, logs) and https links come from them. 0 (the default) believes none: never set it higher than
    # the proxies there are, or clients could choose their own address.
    TRUSTED_PROXIES = _number("TRUSTED_PROXIES", 0)
    # Strict-Transport-Security max-age; set (e.g. 31536000) only when every request arrives over TLS.
    HSTS_SECONDS = _number("HSTS_SECONDS", 0)
    # Rate limits (Flask-Limiter notation), each per client address and per user; RATELIMIT_STORAGE_URI is
    # where the counts live: the application's database by default (workflow/ratelimits.py), shared by every
    # worker and host; redis://host:6379 takes that load off it (memory:// counts per process, docs/security.md).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "database://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "20 per 10 minutes")
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")
    PDF_RATE_LIMIT = os.environ.get("PDF_RATE_LIMIT", "10 per minute")
    # Background jobs (workflow/jobs, run by the scheduler process): a document bigger than its setting is made
    # there, with a progress page, rather than inside the request (the bundled plan's 41 tasks stay inline):
    # the evaluation PDF and workbook and a bulletin's publishing by the plan's tasks, a ledger export by its rows.
    EVALUATION_PDF_INLINE_MAX_TASKS = _number("EVALUATION_PDF_INLINE_MAX_TASKS", 200)
    EVALUATION_WORKBOOK_INLINE_MAX_TASKS = _number("EVALUATION_WORKBOOK_INLINE_MAX_TASKS", 200)
    BULLETIN_INLINE_MAX_TASKS = _number("BULLETIN_INLINE_MAX_TASKS", 200)
    LEDGER_EXPORT_INLINE_MAX_ROWS = _number("LEDGER_EXPORT_INLINE_MAX_ROWS", 5000)
    # A job's own file (a big ledger export) is kept this many days, then swept by the scheduler (ask again).
    JOB_RESULT_DAYS = _number("JOB_RESULT_DAYS", 7)
    # How long a claimed job is its worker's before another may take it over, how often a running job's worker
    # renews that lease (the heartbeat; well under the lease), and how many claims a job gets.
    JOB_LEASE_SECONDS = _number("JOB_LEASE_SECONDS", 900)
    JOB_HEARTBEAT_SECONDS = _number("JOB_HEARTBEAT_SECONDS", 60)
    JOB_MAX_ATTEMPTS = _number("JOB_MAX_ATTEMPTS", 3)
    # Consecutive wrong passwords that lock an account, and for how long (an admin can unlock sooner).
    LOGIN_MAX_FAILURES = _number("LOGIN_MAX_FAILURES", 10)
    LOGIN_LOCKOUT_MINUTES = _number("LOGIN_LOCKOUT_MINUTES", 15)
    # A reported target value that rises or falls by more than this factor against the department's previous
    # period is flagged to the office on the report page (0 turns the warning off).
    VALUE_JUMP_FACTOR = _number("VALUE_JUMP_FACTOR", 3)
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 20 * 1024 * 1024))
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(BASE_DIR / "instance" / "uploads"))
    # Stored files in S3-compatible object storage instead of UPLOAD_DIR (workflow/storage.py): needed once
    # there are several app hosts. S3_ENDPOINT_URL for MinIO/Ceph (https://minio.internal:9000), the bucket
    # must exist; S3_PREFIX puts this installation's keys under a folder of a shared bucket.
    S3_BUCKET = os.environ.get("S3_BUCKET") or None
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
    S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID") or None
    S3_SECRET_ACCESS_KEY = os.environ.get("S3_SECRET_ACCESS_KEY") or None
    S3_REGION = os.environ.get("S3_REGION") or None
    S3_PREFIX = os.environ.get("S3_PREFIX", "")
    # Where pg_dump, pg_restore and psql are when not on PATH (`flask backup`), e.g. /usr/lib/postgresql/15/bin.
    PG_BINDIR = os.environ.get("PG_BINDIR") or None
    DEMO_PLAN_PATH = str(BASE_DIR / "data" / "plans" / "fushun-carbon-peak-plan.txt")
    DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo1234")
    # Email (CONTRACT.md): without MAIL_SERVER nothing leaves the machine; the admin reads the mailbox page.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = os.environ.get("MAIL_PORT") or None  # default: 465 with MAIL_USE_SSL, else 25
    MAIL_USE_TLS = _flag("MAIL_USE_TLS")
    MAIL_USE_SSL = _flag("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", DEFAULT_SENDER)
    MAIL_MAX_ATTEMPTS = _number("MAIL_MAX_ATTEMPTS", 5)
    MAIL_TIMEOUT = _number("MAIL_TIMEOUT", 10)
    MAIL_DIGEST_MAX_ITEMS = _number("MAIL_DIGEST_MAX_ITEMS", 100)
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", DEFAULT_BASE_URL)
    # Reminders by SMS through an HTTP gateway (workflow/mail/channels.py); without SMS_GATEWAY_URL nobody can
    # choose SMS. SMS_TEMPLATE wraps each text ({text}; the signature 【…】 the gateway requires).
    SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL") or None
    SMS_GATEWAY_KEY = os.environ.get("SMS_GATEWAY_KEY") or None
    SMS_TEMPLATE = os.environ.get("SMS_TEMPLATE", DEFAULT_SMS_TEMPLATE)
    # Seconds an SMS gateway or a group robot may take to answer before the attempt counts as failed.
    CHANNEL_TIMEOUT = _number("CHANNEL_TIMEOUT", 10)
    OFFICE_NAME = os.environ.get("OFFICE_NAME", "领导小组办公室")


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test"
    WTF_CSRF_ENABLED = False
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    DATABASE_REPLICA_URL = None  # tests of the replica routing set it (tests/test_replica.py)
    MAIL_SERVER = None  # tests that send mail start their own SMTP server and set it
    SMS_GATEWAY_URL = None  # tests of the channels start their own gateway and set it
    # Tests log in and call the API far more often than people; tests of the limits set the production values.
    LOGIN_RATE_LIMIT = "10000 per minute"
    API_RATE_LIMIT = "100000 per minute"
    PDF_RATE_LIMIT = "10000 per minute"
    RATELIMIT_STORAGE_URI = "memory://"  # tests of the database storage set database:// (tests/test_security.py)
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashing keeps account-heavy tests quick; never in production


# -- mail: the MAIL_* settings as the digests and the SMTP sender use them ------------------------------------

def _given(config: Mapping, name: str, default=None):
    value = config.get(name)
    return default if value is None or value == "" else value


def _as_number(config: Mapping, name: str, default, kind=int):
    """A bad value (set by hand in app.config) falls back to the default; the outbox records what fails."""
    try:
        return kind(_given(config, name, default))
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class MailSettings:
    server: str | None
    port: int
    use_tls: bool
    use_ssl: bool
    username: str | None
    password: str | None
    sender: str
    timeout: float
    max_attempts: int
    digest_max_items: int  # how many items a digest lists; the rest are counted, and are in the in-app inbox
    base_url: str          # for the links in the mails, without a trailing slash

    @classmethod
    def from_config(cls, config: Mapping) -> MailSettings:
        use_ssl = _as_flag(_given(config, "MAIL_USE_SSL", False))
        server = _given(config, "MAIL_SERVER")
        return cls(
            server=(str(server).strip() or None) if server else None,
            port=_as_number(config, "MAIL_PORT", 465 if use_ssl else 25),
            use_tls=_as_flag(_given(config, "MAIL_USE_TLS", False)),
            use_ssl=use_ssl,
            username=_given(config, "MAIL_USERNAME"),
            password=_given(config, "MAIL_PASSWORD"),
            sender=str(_given(config, "MAIL_DEFAULT_SENDER", DEFAULT_SENDER)),
            timeout=_as_number(config, "MAIL_TIMEOUT", 10.0, float),
            max_attempts=max(1, _as_number(config, "MAIL_MAX_ATTEMPTS", 5)),
            digest_max_items=max(1, _as_number(config, "MAIL_DIGEST_MAX_ITEMS", 100)),
            base_url=str(_given(config, "PUBLIC_BASE_URL", DEFAULT_BASE_URL)).rstrip("/"),
        )

    @property
    def configured(self) -> bool:
        return bool(self.server)

    @property
    def envelope_sender(self) -> str:
        return parseaddr(self.sender)[1] or "noreply@localhost"

    @property
    def describe(self) -> str:
        """For the admin page: where mail goes, never the password."""
        if not self.server:
            return ""
        security = " (SSL)" if self.use_ssl else " (STARTTLS)" if self.use_tls else ""
        user = f"，{self.username}" if self.username else ""
        return f"{self.server}:{self.port}{security}{user}"


def mail_settings() -> MailSettings:
    """The running app's mail settings, as app.config holds them now (tests point them at their server)."""
    return MailSettings.from_config(current_app.config)


# -- the other channels: the SMS gateway and the group robots ------------------------------------------------

@dataclass(frozen=True)
class ChannelSettings:
    sms_url: str | None
    sms_key: str | None
    sms_template: str     # "{text}" is replaced by the message
    timeout: float        # per HTTP request to the gateway or a robot

    @classmethod
    def from_config(cls, config: Mapping) -> ChannelSettings:
        url = _given(config, "SMS_GATEWAY_URL")
        template = str(_given(config, "SMS_TEMPLATE", DEFAULT_SMS_TEMPLATE))
        return cls(
            sms_url=(str(url).strip() or None) if url else None,
            sms_key=_given(config, "SMS_GATEWAY_KEY"),
            sms_template=template if "{text}" in template else template + "{text}",
            timeout=max(0.1, _as_number(config, "CHANNEL_TIMEOUT", 10.0, float)),
        )

    @property
    def sms_configured(self) -> bool:
        return bool(self.sms_url)

    @property
    def sms_host(self) -> str:
        """For the admin page: where SMS go, never the key or the URL's query."""
        return urlsplit(self.sms_url or "").netloc


def channel_settings() -> ChannelSettings:
    """The running app's channel settings, as app.config holds them now (tests point them at their server)."""
    return ChannelSettings.from_config(current_app.config)
