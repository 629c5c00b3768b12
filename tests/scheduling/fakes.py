"""The one fake allowed: an SMS gateway we cannot run here. It records what would have been sent."""
import json
import os

from casemgmt.core.channels import SMSBackend


class RecordingSMSBackend(SMSBackend):
    sent = []

    def send(self, *, phone, text):
        RecordingSMSBackend.sent.append({"phone": phone, "text": text})


class FileRecordingSMSBackend(SMSBackend):
    """For a worker in another process: one JSON line per message in ``$SMS_RECORD_PATH``."""

    def send(self, *, phone, text):
        line = json.dumps({"phone": phone, "text": text, "pid": os.getpid()}, ensure_ascii=False) + "\n"
        with open(os.environ["SMS_RECORD_PATH"], "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
