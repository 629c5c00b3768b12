"""Consent enforced from the outside: no message to a family without consent to that channel, the
latest record wins, a withdrawal takes effect at once, and exports can leave non-consenting people out."""
import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from casemgmt.core.models import AuditEvent
from casemgmt.security.models import FamilyMessage
from families.consent import consent_allows, consent_filter
from families.messages import family_message_send
from families.models import AssistanceEnrollment, ConsentRecord, FamilyMember

SENT = []


class RecordingSMSBackend:
    """Stands for the SMS gateway (the one thing we cannot run here)."""

    def send(self, *, phone, text):
        SENT.append((phone, text))


@pytest.fixture
def sms(settings):
    settings.SMS_BACKEND = "tests.families.test_consent.RecordingSMSBackend"
    SENT.clear()
    return SENT


def consent(family, purpose, member=None, given=True, minutes_ago=0, withdrawn=False):
    return ConsentRecord.objects.create(
        family=family, member=member, purpose=purpose, given=given,
        recorded_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
        withdrawn_at=timezone.now() if withdrawn else None,
    )


def test_latest_record_wins_and_withdrawal_is_immediate(families):
    family = families["own"]
    mother = family.members.get(relation="mother")
    assert not consent_allows(family=family, purpose="contact_sms")  # no record, no consent
    record = consent(family, "contact_sms", minutes_ago=10)
    assert consent_allows(family=family, purpose="contact_sms")
    assert consent_allows(family=family, member=mother, purpose="contact_sms")  # family-wide covers members
    assert not consent_allows(family=family, purpose="contact_wechat")  # per purpose
    consent(family, "contact_sms", member=mother, given=False, minutes_ago=5)
    assert not consent_allows(family=family, member=mother, purpose="contact_sms")
    assert consent_allows(family=family, purpose="contact_sms")
    ConsentRecord.objects.filter(pk=record.pk).update(withdrawn_at=timezone.now())
    assert not consent_allows(family=family, purpose="contact_sms")


def test_no_message_to_a_family_without_consent(people, families, sms, django_capture_on_commit_callbacks):
    family = families["own"]
    mother = family.members.get(relation="mother")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(PermissionDenied):
            family_message_send(actor=people["alice"], family=family, member=mother, channel="sms", text="清明将至，周六来看您")
    assert sms == []
    assert FamilyMessage.objects.get().status == "refused"
    assert AuditEvent.objects.filter(event="security.family_message.refused", family_id=family.pk).exists()

    consent(family, "contact_sms", member=mother)
    with django_capture_on_commit_callbacks(execute=True):
        message = family_message_send(actor=people["alice"], family=family, member=mother, channel="sms", text="清明将至")
    assert message.status == "sent" and sms == [("13800000001", "清明将至")]
    # WeChat needs its own consent.
    with pytest.raises(PermissionDenied):
        family_message_send(actor=people["alice"], family=family, member=mother, channel="wechat", text="你好")

    # Withdrawn a minute later: the next message is refused at once.
    consent(family, "contact_sms", member=mother, withdrawn=True)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(PermissionDenied):
            family_message_send(actor=people["alice"], family=family, member=mother, channel="sms", text="再联系")
    assert len(sms) == 1


def test_messages_only_to_families_in_reach(people, families):
    from casemgmt.core.errors import OutOfReachError

    with pytest.raises(OutOfReachError):
        family_message_send(actor=people["carol"], family=families["own"], member=None, channel="sms", text="x")


def test_message_api_answers_403_without_consent(client, people, families, sms):
    family = families["own"]
    mother = family.members.get(relation="mother")
    client.force_login(people["alice"])
    body = {"family": family.pk, "member": mother.pk, "channel": "sms", "text": "你好"}
    assert client.post("/api/v1/family-messages/", body, content_type="application/json").status_code == 403
    consent(family, "contact_sms", member=mother)
    assert client.post("/api/v1/family-messages/", body, content_type="application/json").status_code == 201
    client.force_login(people["carol"])
    assert client.post("/api/v1/family-messages/", body, content_type="application/json").status_code == 404


def test_consent_filter_leaves_out_people_without_consent(families, django_assert_num_queries):
    members = list(FamilyMember.objects.filter(relation="mother").order_by("family__file_number"))
    for member in members:
        AssistanceEnrollment.objects.create(member=member, family=member.family, status="approved")
    own, colleague, outside = (families[k] for k in ("own", "colleague", "outside"))
    consent(own, "public_posting")  # family-wide
    consent(colleague, "public_posting", member=colleague.members.get(relation="mother"), minutes_ago=5)
    consent(colleague, "public_posting", given=False)  # a later family-wide refusal wins
    consent(outside, "insurance")  # another purpose
    with django_assert_num_queries(1):
        kept = list(consent_filter(AssistanceEnrollment.objects.all(), "public_posting"))
    assert [e.family_id for e in kept] == [own.pk]
    people_kept = consent_filter(FamilyMember.objects.all(), "public_posting")
    assert set(people_kept.values_list("family_id", flat=True)) == {own.pk}
