"""Protections that wrap every request: the signing key, response headers, rate limits."""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from flask import Blueprint, Flask, current_app, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

# Values published in this codebase, its docs or common tutorials: a cookie signed with one is forgeable.
WEAK_SECRET_KEYS = frozenset({"dev-only-change-me", "dev", "development", "secret", "changeme", "change-me",
                              "test", "testing", "secret-key", "secret_key", "please-change-me"})
MIN_SECRET_KEY_LENGTH = 16


def _generated_key(path: Path) -> str:
    """The key stored at path, created once (mode 0600) so sessions survive restarts and workers share it."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker wrote it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def init_secret_key(app: Flask) -> None:
    """Use SECRET_KEY, else the generated one; refuse a known or short key outside debugging and tests."""
    key = app.config.get("SECRET_KEY")
    if not key:
        app.config["SECRET_KEY"] = _generated_key(Path(app.config["SECRET_KEY_FILE"]))
        return
    if (key in WEAK_SECRET_KEYS or len(key) < MIN_SECRET_KEY_LENGTH) and not (app.debug or app.testing):
        raise RuntimeError(
            f"SECRET_KEY is a known or short value (under {MIN_SECRET_KEY_LENGTH} characters): set a long "
            "random one, or unset it to have one generated into instance/secret_key."
        )


# Scripts only from /static (no inline script or handler); styles may be inline (style attributes in templates).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
                           "form-action 'self'; frame-ancestors 'none'")


def init_headers(app: Flask) -> None:
    """Security headers on every response (pages, downloads, the API); HSTS only when HSTS_SECONDS is set."""

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if app.config["HSTS_SECONDS"]:
            headers["Strict-Transport-Security"] = f"max-age={app.config['HSTS_SECONDS']}; includeSubDomains"
        # The app names no server; "Werkzeug/x" comes from the development server itself (docs/security.md).
        headers.pop("Server", None)
        return response


def init_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, take the client's address, scheme and host from their
    X-Forwarded-* headers (werkzeug's ProxyFix), so rate limits count per client rather than per proxy."""
    hops = app.config.get("TRUSTED_PROXIES") or 0
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def limit(setting: str, **options):
    """The rate limit named by a setting on a view or a blueprint, counted per client address and, separately,
    per user (or username, or API token): one address cannot try many accounts, nor many addresses one account."""
    from workflow.extensions import limiter

    value = lambda: current_app.config[setting]  # noqa: E731  (read per request, so tests can change it)
    per_address = limiter.limit(value, scope=f"{setting}:address", **options)
    per_user = limiter.limit(value, key_func=_user_key, scope=f"{setting}:user", **options)

    def apply(target):
        if isinstance(target, Blueprint):  # registered in place
            per_user(target)
            per_address(target)
            return target
        return per_address(per_user(target))

    return apply


def _user_key() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    credential = request.headers.get("Authorization") or request.form.get("username", "")
    return "credential:" + hashlib.sha256(credential.strip().lower().encode()).hexdigest()
