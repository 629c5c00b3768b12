"""With DEBUG off, e-mail and SMS must really be sent: `check --deploy` refuses the console, memory,
file and logging backends (the way .ci/run calls it), and the HTTP SMS gateway backend posts to its
gateway."""
import json
import os
import subprocess
import sys
import threading
import urllib.error
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks

from casemgmt.core.channels import HttpSMSBackend, send_sms_message

ROOT = Path(__file__).resolve().parents[2]
CONFIGURED = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "smtp.example.org",
    "SMS_BACKEND": "casemgmt.core.channels.HttpSMSBackend", "SMS_GATEWAY_URL": "https://sms.example.org/send",
    "SMS_GATEWAY_TOKEN": "not-a-token",
}


def _deploy_check(**env):
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "SMS_"))},
        "DEBUG": "false", "SECRET_KEY": "test-" + "k" * 60, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BLIND_INDEX_KEY": "test-blind-index-key", "ALLOWED_HOSTS": "casemgmt.example.org", **env,
    }
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)


def test_deploy_check_refuses_the_console_and_logging_defaults():
    result = _deploy_check()
    assert result.returncode != 0
    assert "core.E001" in result.stderr and "core.E002" in result.stderr


def test_deploy_check_passes_with_real_backends_configured():
    result = _deploy_check(**CONFIGURED)
    assert result.returncode == 0, result.stderr


def _ours(settings, **values):
    for name, value in {**CONFIGURED, **values}.items():
        setattr(settings, name, value)
    return sorted(e.id for e in run_checks(include_deployment_checks=True, tags=["security"]) if e.id.startswith("core."))


@pytest.mark.parametrize(("values", "expected"), [
    ({}, []),
    ({"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}, ["core.E001"]),
    ({"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend"}, ["core.E001"]),
    ({"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}, ["core.E001"]),
    ({"SMS_BACKEND": "casemgmt.core.channels.LoggingSMSBackend"}, ["core.E002"]),
    ({"SMS_BACKEND": "casemgmt.core.channels.NoSuchBackend"}, ["core.E002"]),
    ({"SMS_BACKEND": "casemgmt.core.checks.UNDELIVERED_EMAIL_BACKENDS"}, ["core.E002"]),
    ({"SMS_GATEWAY_URL": ""}, ["core.E003"]),
])
def test_check_with_debug_off(settings, values, expected):
    settings.DEBUG = False
    assert _ours(settings, **values) == expected


def test_check_is_silent_with_debug_on(settings):
    settings.DEBUG = True
    assert _ours(settings, EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
                 SMS_BACKEND="casemgmt.core.channels.LoggingSMSBackend") == []


@pytest.fixture
def gateway():
    received = []

    class Handler(BaseHTTPRequestHandler):
        status = 200

        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"auth": self.headers["Authorization"], "key": self.headers["Idempotency-Key"],
                             "body": json.loads(body)})
            self.send_response(Handler.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, Handler, received
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_http_sms_backend_posts_to_the_gateway(settings, gateway):
    server, handler, received = gateway
    settings.SMS_BACKEND = "casemgmt.core.channels.HttpSMSBackend"
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_port}/send"
    settings.SMS_GATEWAY_TOKEN = "gateway-token"
    send_sms_message(phone="13800000001", text="明天上午上门看望", idempotency_key="attempt-7")
    send_sms_message(phone="13800000001", text="明天上午上门看望")
    body = {"phone": "13800000001", "text": "明天上午上门看望"}
    # The attempt's key reaches the gateway, which drops a resend of the same attempt.
    assert received == [{"auth": "Bearer gateway-token", "key": "attempt-7", "body": body},
                        {"auth": "Bearer gateway-token", "key": None, "body": body}]
    # A refusal raises, so the delivery is tried again later.
    handler.status = 503
    with pytest.raises(urllib.error.HTTPError):
        HttpSMSBackend().send(phone="13800000001", text="x")
