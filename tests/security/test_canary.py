"""The canary: known ID numbers, phones and bank accounts stored through the services, the admin
and the API exercised, then neither a pg_dump of the database nor the application's log holds any
of them in plaintext."""
import datetime
import logging
import shutil
import subprocess

import pytest
from django.db import connection
from django.urls import reverse

from casemgmt.core.idcard import make_id_number
from families import services as family_services
from families.messages import family_message_send
from families.models import AssistanceEnrollment, ConsentRecord, FamilyMember

ID_NUMBER = make_id_number("350623", datetime.date(1961, 4, 18), 77)
PHONE = "13912345678"
BANK = "6217000011112222333"


@pytest.fixture
def app_log(tmp_path):
    """A file handler on the root logger, as a deployment would have."""
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old_level)
    handler.close()


@pytest.mark.django_db(transaction=True)
def test_no_plaintext_in_the_database_dump_or_the_logs(client, regions, people, app_log, settings):
    assert shutil.which("pg_dump"), "the canary needs pg_dump"
    settings.SMS_BACKEND = "casemgmt.core.channels.LoggingSMSBackend"
    alice, manager = people["alice"], people["manager"]
    family = family_services.family_register(actor=manager, region=regions["village"], category="bereaved",
                                             file_number="CANARY-1")
    family_services.assignment_set(actor=manager, family=family, kind="social_worker", user=alice, reason="canary")
    member = FamilyMember.objects.create(family=family, name="金丝雀", relation="mother", id_number=ID_NUMBER, phone=PHONE)
    AssistanceEnrollment.objects.create(member=member, family=family, bank_account=BANK, bank_name="农商银行")
    ConsentRecord.objects.create(family=family, member=member, purpose="contact_sms")
    family_message_send(actor=alice, family=family, member=member, channel="sms", text="周六来看您")

    client.force_login(manager)
    assert client.get(reverse("admin:families_familymember_changelist"), {"q": ID_NUMBER}).status_code == 200
    assert client.get(reverse("admin:families_familymember_change", args=[member.pk])).status_code == 200
    assert client.get("/api/v1/families/", {"q": ID_NUMBER}).status_code == 200
    assert client.get("/api/v1/families/", {"q": PHONE}).status_code == 200
    client.post(f"/api/v1/family-members/{member.pk}/reveal/", {"names": ["id_number", "phone"], "reason": "核对"},
                content_type="application/json")
    client.force_login(people["carol"])
    client.get(f"/api/v1/family-members/{member.pk}/")
    logging.getLogger("django.request").warning("request log line for %s", "/api/v1/")

    db = connection.settings_dict
    dump = subprocess.run(
        ["pg_dump", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"] or "postgres",
         db["NAME"]], capture_output=True, check=True, timeout=120,
    ).stdout.decode()
    assert "CANARY-1" in dump  # the dump is real and holds our rows
    log = app_log.read_text(encoding="utf-8")
    assert log  # something was logged
    for secret in (ID_NUMBER, PHONE, BANK):
        assert secret not in dump, secret
        assert secret not in log, secret
