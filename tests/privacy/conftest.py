"""A family whose every sensitive field holds a distinctive plaintext, and the people of each role
around it, for the cross-surface privacy test.

Each plaintext is unique, so finding it in whatever a surface answered (JSON, HTML, a workbook, a
calendar feed, the audit trail) proves that surface showed it. ``Plain`` records which governed
field each one belongs to; the expectations come from ``privacy.access`` per role.
"""
import datetime
import itertools
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from casemgmt.core import privacy
from casemgmt.core.idcard import make_id_number
from casemgmt.core.models import Role
from casemgmt.security.models import FamilyMessage
from families.models import (
    AnnualReview,
    Assessment,
    AssessmentScale,
    AssistanceEnrollment,
    CarePlan,
    CarePlanGoal,
    CheckIn,
    ContactAssignment,
    FamilyStatusChange,
    RiskLevelChange,
)
from services.models import HealthCheckup, InsuranceClaim, InsurancePolicy, InsuredPerson
from volunteers.models import Pairing, Volunteer

# The people who read, one per role; carol is a social worker of another county (sees nothing).
READERS = {"alice": Role.SOCIAL_WORKER, "contact": Role.CONTACT_PERSON, "manager": Role.REGION_MANAGER,
           "city_admin": Role.ADMIN, "coordinator": Role.VOLUNTEER_COORDINATOR, "volunteer_user": Role.VOLUNTEER,
           "auditor": Role.AUDITOR, "carol": Role.SOCIAL_WORKER}
# Kinds whose values a surface must never show beyond the policy (names and profile are shown to all).
GUARDED_KINDS = privacy.REDACTED_KINDS


@dataclass
class Plain:
    label: str  # "app.model"
    name: str  # field name
    value: str
    obj: object

    @property
    def kind(self):
        return privacy.field_of(self.label, self.name).kind


@dataclass
class PrivacyWorld:
    people: dict
    family: object
    plains: list = field(default_factory=list)
    objects: dict = field(default_factory=dict)  # label -> [objects holding plaintexts]

    def allowed(self, user, plain):
        """Whether ``user`` may see ``plain``'s plaintext without revealing it."""
        how = privacy.access(user, plain.label, plain.name)
        if how == privacy.Access.OWN:
            return privacy.is_own(user, plain.obj)
        return how == privacy.Access.SHOW


_counter = itertools.count(1)


def _text(tag):
    # ASCII, short and unique: survives JSON, HTML escaping, xlsx and iCalendar line folding.
    return f"Pv{next(_counter):03d}{tag}"


def _phone():
    return f"1390{next(_counter):07d}"


@pytest.fixture
def privacy_world(regions, people, families):
    family = families["own"]
    world = PrivacyWorld(people=people, family=family)
    contact, alice = people["contact"], people["alice"]
    ContactAssignment.objects.create(family=family, user=contact, kind="village_contact")

    def keep(obj, **values):
        label = obj._meta.label_lower
        for name, value in values.items():
            setattr(obj, name, value)
        obj.save()
        for name, value in values.items():
            world.plains.append(Plain(label, name, str(value), obj))
        world.objects.setdefault(label, []).append(obj)
        return obj

    keep(family, address=_text("addr"), notes=_text("fnote"), status_reason=_text("sreason"),
         risk_reason=_text("rreason"))
    mother = family.members.get(relation="mother")
    mother_id = make_id_number("350623", datetime.date(1961, 4, 5), 52)
    keep(mother, id_number=mother_id, phone=_phone(), health_conditions=_text("health"),
         disability_certificate_number=f"{mother_id}41", family_doctor=_text("doc"),
         family_doctor_institution=_text("clinic"))
    # One check-in recorded by the contact person (their own notes) and one by the social worker.
    now = timezone.now()
    for author in (contact, alice):
        keep(CheckIn(family=family, recorded_by=author, channel="phone", occurred_at=now),
             mental_notes=_text("mood"), difficulties=_text("diff"), needs=_text("needs"), help_given=_text("help"),
             follow_up=_text("follow"))
    scale = AssessmentScale.objects.create(code="pv", name="PV", max_score=30, bands=[[0, "green"], [20, "red"]])
    keep(Assessment(family=family, member=mother, scale=scale, score=27, resulting_risk="red", assessed_by=alice),
         notes=_text("assess"))
    keep(RiskLevelChange(family=family, to_level="red", changed_by=alice), reason=_text("risk"))
    keep(FamilyStatusChange(family=family, to_status="active", changed_by=alice), reason=_text("status"))
    plan = keep(CarePlan(family=family, title="plan", owner=alice), summary=_text("plan"))
    keep(CarePlanGoal(plan=plan), description=_text("goal"))
    enrollment = keep(AssistanceEnrollment(member=mother, family=family), bank_account="6222020200134343434",
                      bank_name=_text("bank"))
    keep(AnnualReview(enrollment=enrollment, year=2026), note=_text("review"))
    policy = InsurancePolicy.objects.create(insurer="人保", product_kind="critical_illness", region=regions["village"],
                                            starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 12, 31),
                                            premium=1000, status="active")
    InsuredPerson.objects.create(policy=policy, member=mother)
    keep(InsuranceClaim(policy=policy, member=mother, incident_date=datetime.date(2026, 3, 1), amount_claimed=5000),
         diagnosis=_text("diag"))
    keep(HealthCheckup(member=mother, date=datetime.date(2026, 4, 1), provider="县医院"), findings=_text("finding"))
    keep(FamilyMessage(family=family, member=mother, channel="sms", status="sent", sent_by=alice), text=_text("msg"))
    volunteer = Volunteer.objects.create(name="志愿者甲", region=regions["zhangpu"], user=people["volunteer_user"])
    keep(volunteer, phone=_phone(), id_number=make_id_number("350623", datetime.date(1990, 1, 2), 15))
    Pairing.objects.create(volunteer=volunteer, family=family)
    return world
