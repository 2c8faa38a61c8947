"""Gunicorn's settings for the portal: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`
(what `make serve` runs). Every value can be changed by a PORTAL_* variable; docs/deploy.md
explains the choices.

- Workers and threads: PORTAL_WORKERS (default 2 per core, plus one) processes of
  PORTAL_THREADS threads (default 2). The app is thread-safe; database engines, the search
  index and the usage recorder are opened by each worker after the fork, never shared
  (portal/forking.py), so `--preload` is safe too.
- Forwarded headers: gunicorn believes none of them. Behind a reverse proxy, the portal's
  PORTAL_TRUSTED_PROXIES (Werkzeug's ProxyFix) says how many proxies to believe for the
  client's address, scheme and host: one setting, one story.
- Logs: gunicorn's own access log is off: the portal writes one line per request itself
  (PORTAL_LOG_FORMAT json or text, on standard error, with the request id). Gunicorn's error
  log (start, stop, worker timeouts) goes to standard error too.
"""

import multiprocessing
import os


def _number(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1, not {text!r}")
    return int(text)


wsgi_app = "wsgi:app"
bind = [os.environ.get("PORTAL_BIND", "127.0.0.1:8000")]
workers = _number("PORTAL_WORKERS", 2 * multiprocessing.cpu_count() + 1)
threads = _number("PORTAL_THREADS", 2)

# A request silent for this long is a stuck worker: it is killed and replaced. An upload
# reaches the worker only once the proxy has read all of it (nginx buffers request bodies).
timeout = _number("PORTAL_WORKER_TIMEOUT", 60)
# On SIGTERM or SIGHUP, requests under way get this long to finish.
graceful_timeout = 30
keepalive = 5
# Heartbeats in memory, not on a disk that may stall (gunicorn makes its files there with
# mkstemp: private names, so a shared folder is fine).
_MEMORY = "/dev/shm"  # noqa: S108
worker_tmp_dir = _MEMORY if os.path.isdir(_MEMORY) else None

# The reverse proxy is the only door; gunicorn itself trusts no forwarded header (above).
forwarded_allow_ips = ""
secure_scheme_headers = {}
forwarder_headers = ""

accesslog = None
errorlog = "-"
loglevel = os.environ.get("PORTAL_GUNICORN_LOG_LEVEL", "info")
# Request lines longer than this are refused (search words are capped far below it).
limit_request_line = 8190
