"""Matrix expectations for the volunteers API.

Volunteers, teams, courses and sessions are organised by region: every role that works with
volunteers sees its subtree; volunteers see only their own rows where a row belongs to one.
The "own" volunteer is volunteer_user's record (county level, paired with alice's family).
"""
import datetime

from django.utils import timezone

from tests.api.matrix import DENY, SCOPES, RoutePolicy, Sees
from volunteers.models import (
    Enrollment,
    Pairing,
    Qualification,
    ServiceHours,
    Skill,
    Team,
    TrainingCourse,
    TrainingSession,
    Volunteer,
)

IN_REGION = {"own", "colleague"}
# Region-organised records (teams, courses, sessions): whoever works with volunteers, by subtree.
BY_REGION = Sees(alice=IN_REGION, bob=IN_REGION, carol={"outside"}, manager=IN_REGION, coordinator=IN_REGION,
                 volunteer=IN_REGION, auditor=DENY, contact=IN_REGION)
# Rows of one volunteer: volunteers see their own; the own volunteer works at county level, above the
# contact person's township.
PER_VOLUNTEER = {**BY_REGION, "volunteer": frozenset({"own"}), "contact": frozenset({"colleague"})}
ORGANISERS = {"manager", "coordinator"}


def volunteer_of(world, scope):
    if scope == "own":
        return Volunteer.objects.get(user=world.people["volunteer"])
    return Volunteer.objects.get_or_create(name=f"志愿者{scope}", region=world.region_of[scope])[0]


def session_in(world, scope):
    region = world.region_of[scope]
    course = TrainingCourse.objects.create(title=f"课程{scope}", region=region, qualification_name="结业证书",
                                           validity_months=12)
    starts_at = timezone.now() + datetime.timedelta(days=3 + SCOPES.index(scope))
    return TrainingSession.objects.create(course=course, region=region, starts_at=starts_at,
                                          ends_at=starts_at + datetime.timedelta(hours=2), venue="会议室", capacity=5)


def _pairing(world, scope):
    volunteer = volunteer_of(world, scope)
    pairing = Pairing.objects.filter(volunteer=volunteer, family=world.families[scope]).first()
    return pairing or Pairing.objects.create(volunteer=volunteer, family=world.families[scope])


ROUTE_POLICIES = {
    "skill": RoutePolicy(
        read=Sees(alice=SCOPES, bob=SCOPES, carol=SCOPES, manager=SCOPES, coordinator=SCOPES, volunteer=SCOPES,
                  auditor=SCOPES, contact=SCOPES),
        make=lambda world, scope: Skill.objects.create(code=f"skill-{scope}", name=scope),
        write={"create": {"coordinator"}, "update": {"coordinator"}},
        list_exact=False,
    ),
    "team": RoutePolicy(
        read=BY_REGION,
        make=lambda world, scope: Team.objects.create(name=f"队{scope}", region=world.region_of[scope]),
        write={"create": ORGANISERS, "update": ORGANISERS},
    ),
    "volunteer": RoutePolicy(
        read=PER_VOLUNTEER,
        make=volunteer_of,
        write={"create": ORGANISERS, "update": ORGANISERS},
    ),
    "trainingcourse": RoutePolicy(
        read=BY_REGION,
        make=lambda world, scope: TrainingCourse.objects.create(title=f"课程{scope}", region=world.region_of[scope]),
        write={"create": ORGANISERS, "update": ORGANISERS},
    ),
    "trainingsession": RoutePolicy(
        read=BY_REGION,
        make=session_in,
        write={"create": ORGANISERS, "update": ORGANISERS, "complete": ORGANISERS},
    ),
    "trainingenrollment": RoutePolicy(
        read={**BY_REGION, "volunteer": frozenset({"own"})},
        make=lambda world, scope: Enrollment.objects.create(session=session_in(world, scope),
                                                            volunteer=volunteer_of(world, scope)),
        # Volunteers enrol, cancel and check in themselves (the service refuses anybody else's).
        write={"create": ORGANISERS | {"volunteer"}, "cancel": ORGANISERS | {"volunteer"}, "attend": ORGANISERS,
               "checkin": ORGANISERS | {"volunteer"}},
    ),
    "qualification": RoutePolicy(
        read=PER_VOLUNTEER,
        make=lambda world, scope: Qualification.objects.create(volunteer=volunteer_of(world, scope), name="急救证",
                                                               granted_on=datetime.date(2025, 6, 1)),
        write={"create": ORGANISERS, "update": ORGANISERS},
    ),
    # Pairings hang off a family: caseload roles see the pairings of their families only.
    "pairing": RoutePolicy(
        read=Sees(alice={"own"}, bob={"colleague"}, carol={"outside"}, manager=IN_REGION, coordinator=IN_REGION,
                  volunteer={"own"}, auditor=DENY, contact={"own"}),
        make=_pairing,
        write={"create": ORGANISERS, "end": ORGANISERS},
    ),
    # Service hours are volunteer business: coordinators and managers review, volunteers log their own.
    "servicehours": RoutePolicy(
        read=Sees(alice=DENY, bob=DENY, carol=DENY, manager=IN_REGION, coordinator=IN_REGION, volunteer={"own"},
                  auditor=DENY, contact=DENY),
        make=lambda world, scope: ServiceHours.objects.create(volunteer=volunteer_of(world, scope), hours=2,
                                                              date=datetime.date(2026, 1, 5), description="陪伴"),
        write={"create": ORGANISERS | {"volunteer"}, "approve": ORGANISERS, "reject": ORGANISERS},
    ),
}
