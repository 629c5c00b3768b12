"""No ID number, phone number or search term in the logs: runserver's access log (``django.server``)
and gunicorn's, each through a real server, and any other record the configured handlers write."""
import datetime
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer, get_internal_wsgi_application

from casemgmt.core.idcard import make_id_number
from casemgmt.core.logmask import GunicornLogger, MaskingFilter, mask

ROOT = Path(__file__).resolve().parents[2]
ID_NUMBER = make_id_number("350623", datetime.date(1968, 3, 5), 24)
MASKED_ID = f"{ID_NUMBER[:6]}********{ID_NUMBER[-4:]}"
PHONE = "13800000001"
QUERY = f"?q={ID_NUMBER}&phone={PHONE}&name=%E7%8E%8B%E7%A7%80%E8%8B%B1&page=2"


def _assert_masked(text):
    assert ID_NUMBER not in text and PHONE not in text and "%E7%8E%8B" not in text
    assert f"q={ID_NUMBER[:6]}********{ID_NUMBER[-4:]}" in text
    assert "phone=138****0001" in text and "name=***" in text and "page=2" in text


@pytest.mark.parametrize(("text", "expected"), [
    (f"GET /api/v1/families/?q={ID_NUMBER} HTTP/1.1", f"GET /api/v1/families/?q={MASKED_ID} HTTP/1.1"),
    (f"/x/?id_number={ID_NUMBER[:17]}X&ordering=name", f"/x/?id_number={ID_NUMBER[:6]}********{ID_NUMBER[14:17]}X&ordering=name"),
    ("/admin/families/familymember/?q=%E7%8E%8B", "/admin/families/familymember/?q=***"),
    ("/admin/autocomplete/?term=138%200000%200001&app_label=families", "/admin/autocomplete/?term=***&app_label=families"),
    (f"SMS to {PHONE} failed; member {ID_NUMBER}", f"SMS to 138****0001 failed; member {ID_NUMBER[:6]}********{ID_NUMBER[-4:]}"),
    ("/api/v1/families/?region=350623&page=12&q=", "/api/v1/families/?region=350623&page=12&q="),
    ("order 123456789012 of 2026-05-20", "order 123456789012 of 2026-05-20"),
])
def test_mask(text, expected):
    assert mask(text) == expected


@pytest.mark.django_db(transaction=True)  # /healthz reads the job ledger, from the server's thread
def test_runserver_access_log_shows_only_masked_search_terms():
    """runserver's own server and request handler, with the logging the settings configure."""
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_internal_wsgi_application())  # sets Django up, and its logging, once more
    handler = next(h for h in logging.getLogger("django.server").handlers if h.get_name() == "django.server")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/healthz{QUERY}", timeout=10) as response:
            assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        handler.setStream(previous)
    text = stream.getvalue()
    assert "GET /healthz" in text and " 200 " in text
    _assert_masked(text)


def test_any_record_through_the_configured_handlers_is_masked():
    root = logging.getLogger()
    handler = root.handlers[0]
    assert any(isinstance(f, MaskingFilter) for f in handler.filters)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        logging.getLogger("casemgmt.core.channels").warning("SMS to %s about %s failed", PHONE, ID_NUMBER)
    finally:
        handler.setStream(previous)
    assert stream.getvalue().strip().endswith(f"SMS to 138****0001 about {ID_NUMBER[:6]}********{ID_NUMBER[-4:]} failed")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_access_log_shows_only_masked_search_terms(tmp_path):
    """gunicorn started the way production starts it (from the project's root, so it reads
    gunicorn.conf.py), its access log on."""
    port = _free_port()
    log = tmp_path / "access.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "casemgmt.wsgi:application", "-b", f"127.0.0.1:{port}",
         "-w", "1", "--access-logfile", str(log)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz{QUERY}", timeout=5):
                    break
            except urllib.error.HTTPError:
                break  # answered (a health check may say 503 without a database): the log line is what counts
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        deadline = time.monotonic() + 10
        while "healthz" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    text = log.read_text()
    assert "GET /healthz" in text
    _assert_masked(text)


def test_gunicorn_logger_masks_the_query_string_and_referrer_atoms():
    from gunicorn.config import Config

    class Response:
        status, sent, headers = "200 OK", 10, []

    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/api/v1/families/{QUERY}", "SERVER_PROTOCOL": "HTTP/1.1",
               "PATH_INFO": "/api/v1/families/", "QUERY_STRING": QUERY[1:], "HTTP_REFERER": f"https://x.example/{QUERY}"}
    atoms = GunicornLogger(Config()).atoms(Response(), [], environ, datetime.timedelta(milliseconds=5))
    for key in ("r", "q", "f", "{query_string}e", "{raw_uri}e"):
        _assert_masked(atoms[key])
