"""gunicorn settings for the web process: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (deploy/duban-web.service,
`make prod-check`). Each value can be set from the environment (GUNICORN_*), so the unit, the check and a
larger machine share this file. The scheduler is a process of its own (deploy/duban-scheduler.service), never
started in these workers."""
import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


# nginx in front on the same machine (deploy/nginx.conf); never expose gunicorn itself.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: nginx buffers slow clients, and a request holds one database connection at a time.
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
# The evaluation PDF of a whole plan is rendered in the request: allow it two minutes before the worker is
# replaced; nginx's proxy_read_timeout is a little longer.
timeout = _int("GUNICORN_TIMEOUT", 120)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then (PDF rendering holds on to memory); the jitter keeps them from restarting together.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = 100
# No control socket (gunicorn ≥ 24 opens ~/.gunicorn/gunicorn.ctl, which the unit's ProtectHome=yes refuses with a
# warning at every start); the service is managed by systemd signals.
control_socket_disable = True
# Heartbeat files in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Logs to stdout/stderr: journald keeps them (journalctl -u duban-web). The access log names the client as
# nginx saw it (X-Forwarded-For) and the time taken in microseconds.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%({x-forwarded-for}i)s %(h)s "%(r)s" %(s)s %(b)s %(D)sus "%(f)s" "%(a)s"'

# Forwarded headers: gunicorn believes X-Forwarded-Proto only from these addresses (for wsgi.url_scheme); the
# application believes X-Forwarded-For/-Proto/-Host from TRUSTED_PROXIES proxies (werkzeug's ProxyFix,
# workflow/security.py), which the environment file sets to 1 for the nginx in front.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
# Request limits as nginx enforces them too; bodies are limited by MAX_CONTENT_LENGTH and client_max_body_size.
limit_request_line = 8190
limit_request_fields = 100


def on_starting(server) -> None:
    """gunicorn writes `Server: gunicorn` into every response's head itself (Response.default_headers), beyond
    the application's reach; drop that line in the master before the workers fork, so nothing names the
    software even without nginx's proxy_hide_header. Should a gunicorn release move or rename that method, refuse
    to start rather than announce the server again unnoticed (tests/test_deploy.py starts gunicorn with this file)."""
    from gunicorn.http import wsgi

    default_headers = getattr(wsgi.Response, "default_headers", None)
    if not callable(default_headers):
        raise RuntimeError("gunicorn.http.wsgi.Response.default_headers is gone: update deploy/gunicorn.conf.py "
                           "so responses carry no Server header")
    if getattr(default_headers, "drops_server", False):
        return

    def without_server(self):
        return [line for line in default_headers(self) if not line.lower().startswith("server:")]

    without_server.drops_server = True
    wsgi.Response.default_headers = without_server
