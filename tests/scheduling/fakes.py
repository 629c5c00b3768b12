"""The one fake allowed: an SMS gateway we cannot run here. It records what would have been sent.

``DedupSMSGateway`` behaves as real gateways do with an idempotency key: a second message under a
key it has already accepted is acknowledged and dropped. The tests count what it delivered.
"""
import json
import os

import psycopg
from django.db import connection

from casemgmt.core.channels import SMSBackend
from casemgmt.devdb import libpq_params


class RecordingSMSBackend(SMSBackend):
    sent = []

    def send(self, *, phone, text, idempotency_key=None):
        RecordingSMSBackend.sent.append({"phone": phone, "text": text, "key": idempotency_key})


class FileRecordingSMSBackend(SMSBackend):
    """For a worker in another process: one JSON line per message in ``$SMS_RECORD_PATH``."""

    def send(self, *, phone, text, idempotency_key=None):
        line = json.dumps({"phone": phone, "text": text, "key": idempotency_key, "pid": os.getpid()},
                          ensure_ascii=False) + "\n"
        with open(os.environ["SMS_RECORD_PATH"], "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


class DedupSMSGateway(SMSBackend):
    """Accepts each idempotency key once: ``calls`` is every request, ``delivered`` what reached a phone."""

    calls = []
    delivered = {}

    def send(self, *, phone, text, idempotency_key=None):
        assert idempotency_key, "a reminder goes out with its attempt's key"
        self.calls.append({"phone": phone, "text": text, "key": idempotency_key})
        self.delivered.setdefault(idempotency_key, {"phone": phone, "text": text})


def drop_database_connection():
    """End this process's database session from outside, as a failover or a network cut does: the
    next statement on it fails with ``OperationalError``."""
    pid = connection.connection.info.backend_pid
    with psycopg.connect(**libpq_params(connection.settings_dict), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])  # returns once it has ended


class DroppingDedupSMSGateway(DedupSMSGateway):
    """The gateway accepts the message, then the database connection drops before it is recorded
    (once per key: the resend under the same key finds the database back)."""

    def send(self, *, phone, text, idempotency_key=None):
        first = idempotency_key not in self.delivered
        super().send(phone=phone, text=text, idempotency_key=idempotency_key)
        if first:
            drop_database_connection()


class FileDroppingDedupSMSGateway(SMSBackend):
    """``DroppingDedupSMSGateway`` for workers in other processes: every request is a JSON line in
    ``$SMS_RECORD_PATH``; the first request under a key drops the worker's database connection."""

    def send(self, *, phone, text, idempotency_key=None):
        assert idempotency_key
        path = os.environ["SMS_RECORD_PATH"]
        seen = os.path.exists(path) and any(json.loads(line)["key"] == idempotency_key
                                            for line in open(path, encoding="utf-8"))
        FileRecordingSMSBackend().send(phone=phone, text=text, idempotency_key=idempotency_key)
        if not seen:
            drop_database_connection()
