"""Sensitive columns hold only ciphertext; exact lookups still work through the blind index."""
import datetime

import pytest
from django.apps import apps
from django.db import connection, models

from casemgmt.core.crypto import EncryptedTextField, blind_index, decrypt
from casemgmt.core.idcard import make_id_number
from casemgmt.core.privacy import FIELDS, Kind
from families import services as family_services
from families.models import (
    AnnualReview,
    Assessment,
    AssessmentScale,
    AssistanceEnrollment,
    CarePlan,
    CarePlanGoal,
    CheckIn,
    Family,
    FamilyMember,
    FamilyStatusChange,
    RiskLevelChange,
)
from services.models import HealthCheckup, InsuranceClaim, InsurancePolicy


def _raw(member, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM families_familymember WHERE id = %s", [member.pk])
        return cursor.fetchone()[0]


def test_raw_columns_hold_no_plaintext(families):
    number = make_id_number("350623", datetime.date(1962, 8, 15), 51)
    member = FamilyMember.objects.create(
        family=families["own"], name="孙七", relation="other", id_number=number, phone="13700001111",
        health_conditions="糖尿病", disability_certificate_number="CJZ-123456",
    )
    for column, plain in (("id_number", number), ("phone", "13700001111"), ("health_conditions", "糖尿病"),
                          ("disability_certificate_number", "CJZ-123456")):
        raw = _raw(member, column)
        assert raw.startswith("enc:"), column
        assert plain not in raw
        assert decrypt(raw) == plain
    # The blind index is a keyed digest, not the number.
    assert _raw(member, "id_number_index") == blind_index(number, "id_number") != number


def test_encryption_is_randomised(families):
    # Both mothers have the phone 13800000001 (conftest); their stored ciphertexts still differ.
    a = families["own"].members.get(relation="mother")
    b = families["colleague"].members.get(relation="mother")
    assert a.phone == b.phone == "13800000001"
    assert _raw(a, "phone") != _raw(b, "phone")
    assert _raw(a, "phone_index") == _raw(b, "phone_index")


def test_lookup_by_exact_id_number_finds_the_member(families):
    mother = families["own"].members.get(relation="mother")
    found = FamilyMember.objects.get(id_number_index=blind_index(mother.id_number, "id_number"))
    assert found == mother
    assert found.id_number == mother.id_number
    assert not FamilyMember.objects.filter(id_number_index=blind_index(mother.id_number[:17] + "0", "id_number")).exists()


# ---- the free text that describes health, mood, risk or hardship -------------------------------

FREE_TEXT_KINDS = (Kind.HEALTH, Kind.NOTES)
# Goals of a care plan say what the family struggles with; the policy leaves them to the plan's reach.
UNCLASSIFIED_FREE_TEXT = {("families.careplangoal", "description")}


def _free_text_fields():
    """(label, name) of every free-text column the policy classes as health or notes in the apps
    that hold families' case files, and the goals of care plans."""
    found = set(UNCLASSIFIED_FREE_TEXT)
    for label, fields in FIELDS.items():
        if label.split(".")[0] not in ("families", "services"):
            continue
        model = apps.get_model(label)
        for name, spec in fields.items():
            field = model._meta.get_field(name)
            if spec.kind in FREE_TEXT_KINDS and isinstance(field, (models.CharField, models.TextField)) and not field.choices:
                found.add((label, name))
    return found


def test_every_free_text_field_of_health_or_notes_is_encrypted():
    fields = _free_text_fields()
    # Not an empty walk: the fields the policy table names for these classes are all there.
    assert {("families.checkin", "difficulties"), ("families.family", "risk_reason"),
            ("services.insuranceclaim", "diagnosis"), ("families.annualreview", "note")} <= fields
    plain = sorted(f"{label}.{name}" for label, name in fields
                   if not isinstance(apps.get_model(label)._meta.get_field(name), EncryptedTextField))
    assert plain == []


@pytest.fixture
def case_file(families, people):
    """One row of every model with encrypted free text, each holding a distinct plaintext, written
    the ways the application writes them (services that ``update()``, and ``save()``)."""
    family = families["own"]
    alice = people["alice"]
    family_services.family_change_status(actor=alice, family=family, status="active", reason="首次联系：独居无人照料")
    family_services.family_set_risk(actor=alice, family=family, level="red", reason="PHQ-9 得分 27")
    Family.objects.filter(pk=family.pk).update(notes="老伴去世后拒绝出门")
    family.refresh_from_db()
    mother = family.members.get(relation="mother")
    mother.family_doctor, mother.family_doctor_institution = "陈医生", "绥安镇卫生院精神科"
    mother.health_conditions, mother.disability_certificate_number = "高血压", "CJZ-350623-42"
    mother.save()
    scale = AssessmentScale.objects.create(code="phq9", name="PHQ-9", max_score=27, bands=[[0, "green"], [20, "red"]])
    assessment = Assessment.objects.create(family=family, member=mother, scale=scale, score=27, resulting_risk="red",
                                           notes="反复提及孩子", assessed_by=alice)
    checkin = CheckIn.objects.create(family=family, recorded_by=alice, channel="phone", mental_notes="情绪低落",
                                     difficulties="失眠，常哭",
                                     needs="希望有人陪同就医", help_given="联系心理咨询中心", follow_up="下周上门")
    plan = CarePlan.objects.create(family=family, title="帮扶计划", summary="哀伤辅导，每周两次", owner=alice)
    goal = CarePlanGoal.objects.create(plan=plan, description="PHQ-9 分数降到 10 分以下")
    enrollment = AssistanceEnrollment.objects.create(member=mother, family=family)
    review = AnnualReview.objects.create(enrollment=enrollment, year=2026, note="因病无法到场，入户核实")
    policy = InsurancePolicy.objects.create(insurer="人保", product_kind="critical_illness", region=family.region,
                                            starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 12, 31),
                                            premium=100)
    claim = InsuranceClaim.objects.create(policy=policy, member=mother, incident_date=datetime.date(2026, 3, 1),
                                          amount_claimed=500, diagnosis="重度抑郁发作")
    checkup = HealthCheckup.objects.create(member=mother, date=datetime.date(2026, 4, 1), provider="县医院",
                                           findings="血压偏高")
    rows = {
        ("families.family", family.pk): {"status_reason": "首次联系：独居无人照料", "risk_reason": "PHQ-9 得分 27",
                                         "notes": "老伴去世后拒绝出门"},
        ("families.familymember", mother.pk): {"family_doctor": "陈医生", "family_doctor_institution": "绥安镇卫生院精神科",
                                               "health_conditions": "高血压", "disability_certificate_number": "CJZ-350623-42"},
        ("families.assessment", assessment.pk): {"notes": "反复提及孩子"},
        ("families.familystatuschange", FamilyStatusChange.objects.filter(family=family).latest("id").pk):
            {"reason": "首次联系：独居无人照料"},
        ("families.risklevelchange", RiskLevelChange.objects.filter(family=family).latest("id").pk):
            {"reason": "PHQ-9 得分 27"},
        ("families.checkin", checkin.pk): {"mental_notes": "情绪低落", "difficulties": "失眠，常哭", "needs": "希望有人陪同就医",
                                           "help_given": "联系心理咨询中心", "follow_up": "下周上门"},
        ("families.careplan", plan.pk): {"summary": "哀伤辅导，每周两次"},
        ("families.careplangoal", goal.pk): {"description": "PHQ-9 分数降到 10 分以下"},
        ("families.annualreview", review.pk): {"note": "因病无法到场，入户核实"},
        ("services.insuranceclaim", claim.pk): {"diagnosis": "重度抑郁发作"},
        ("services.healthcheckup", checkup.pk): {"findings": "血压偏高"},
    }
    return rows


def test_free_text_columns_hold_only_ciphertext_and_the_orm_reads_plaintext(case_file):
    written = {(label, name) for (label, _pk), values in case_file.items() for name in values}
    assert written >= _free_text_fields()  # every such field is tried
    for (label, pk), values in case_file.items():
        model = apps.get_model(label)
        table = model._meta.db_table
        for column, plain in values.items():
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
                raw = cursor.fetchone()[0]
            assert raw.startswith("enc:") and plain not in raw, f"{label}.{column}"
            assert decrypt(raw) == plain
            assert getattr(model.objects.get(pk=pk), column) == plain
            assert model.objects.filter(pk=pk).values_list(column, flat=True).get() == plain


def test_a_bounded_encrypted_field_keeps_its_length_and_one_line_input():
    from django import forms

    doctor = FamilyMember._meta.get_field("family_doctor").formfield()
    assert isinstance(doctor.widget, forms.TextInput) and doctor.max_length == 100
    with pytest.raises(forms.ValidationError):
        doctor.clean("医" * 101)
    assert isinstance(Family._meta.get_field("notes").formfield().widget, forms.Textarea)
