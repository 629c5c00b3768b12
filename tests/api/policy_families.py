"""Matrix expectations for the families API."""
import datetime

from families.models import (
    AnnualReview,
    AssessmentScale,
    AssistanceEnrollment,
    CarePlan,
    CarePlanGoal,
    CareTask,
    CheckIn,
    ConsentRecord,
    FamilyTransfer,
)
from tests.api.matrix import CASE_WRITERS, CASEWORK, CASEWORK_REFERENCE, FAMILY, MEMBER, RoutePolicy

READERS_OF_SENSITIVE = CASE_WRITERS | {"contact"}  # coordinators and volunteers never see plaintext
# Health and mood are social work: contact persons reveal phones, not them (docs/privacy.md).
REVEALERS_OF_HEALTH = CASE_WRITERS
TODAY = datetime.date(2026, 1, 10)


def _scale():
    return AssessmentScale.objects.get_or_create(code="matrix", defaults={
        "name": "matrix scale", "max_score": 10, "bands": [[0, "green"], [6, "orange"]]})[0]


def _assessment(world, scope):
    from families.models import Assessment

    family = world.families[scope]
    return Assessment.objects.create(family=family, scale=_scale(), score=3, resulting_risk="green", notes="悲伤",
                                     assessed_by=world.owner_of[scope])


def _plan(world, scope):
    return CarePlan.objects.create(family=world.families[scope], title=f"plan {scope}", owner=world.owner_of[scope])


def _enrollment(world, scope):
    family = world.families[scope]
    return AssistanceEnrollment.objects.create(member=family.members.get(relation="mother"), family=family,
                                               bank_account="6222020200112233445")


TRANSFER_TARGET = {"own": "village2", "colleague": "village", "outside": "yx_town"}

ROUTE_POLICIES = {
    "family": RoutePolicy(
        read=FAMILY,
        make=lambda world, scope: world.families[scope],
        write={"create": CASE_WRITERS, "update": CASE_WRITERS, "reassess_risk": CASE_WRITERS, "close": CASE_WRITERS,
               "reopen": CASE_WRITERS, "transfer": CASE_WRITERS, "assign": {"manager"}},
    ),
    "familymember": RoutePolicy(
        read=MEMBER,
        make=lambda world, scope: world.families[scope].members.order_by("id").first(),
        rows=lambda world, scope: list(world.families[scope].members.all()),
        write={"create": CASE_WRITERS, "update": READERS_OF_SENSITIVE, "reveal": READERS_OF_SENSITIVE},
    ),
    "contactassignment": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: world.families[scope].assignments.get(kind="social_worker"),
        rows=lambda world, scope: list(world.families[scope].assignments.all()),
    ),
    "checkin": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: CheckIn.objects.create(family=world.families[scope], recorded_by=world.owner_of[scope],
                                                         channel="phone", mental_notes="情绪低落"),
        write={"create": READERS_OF_SENSITIVE, "update": READERS_OF_SENSITIVE, "reveal": REVEALERS_OF_HEALTH},
    ),
    "assessmentscale": RoutePolicy(
        read=CASEWORK_REFERENCE,
        make=lambda world, scope: AssessmentScale.objects.create(code=f"s-{scope}", name=scope, max_score=5, bands=[]),
        list_exact=False,
    ),
    "assessment": RoutePolicy(
        read=CASEWORK,
        make=_assessment,
        write={"create": CASE_WRITERS, "reveal": REVEALERS_OF_HEALTH},
    ),
    "careplan": RoutePolicy(read=CASEWORK, make=_plan, write={"create": CASE_WRITERS, "update": CASE_WRITERS}),
    "careplangoal": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: CarePlanGoal.objects.create(plan=_plan(world, scope), description="sleep better"),
        write={"create": CASE_WRITERS, "update": CASE_WRITERS},
    ),
    "caretask": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: CareTask.objects.create(family=world.families[scope], description="visit", due_on=TODAY),
        write={"create": CASE_WRITERS, "update": READERS_OF_SENSITIVE},
    ),
    "assistanceenrollment": RoutePolicy(
        read=CASEWORK,
        make=_enrollment,
        # Bank accounts are revealed by administrators only (not in the matrix).
        write={"create": CASE_WRITERS, "update": CASE_WRITERS, "reveal": set()},
    ),
    "annualreview": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: AnnualReview.objects.create(enrollment=_enrollment(world, scope), year=2025),
        write={"create": CASE_WRITERS, "update": CASE_WRITERS},
    ),
    "consentrecord": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: ConsentRecord.objects.create(family=world.families[scope], purpose="case_management"),
        write={"create": READERS_OF_SENSITIVE, "withdraw": READERS_OF_SENSITIVE},
    ),
    "familytransfer": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: FamilyTransfer.objects.create(
            family=world.families[scope], from_region=world.families[scope].region,
            to_region=world.regions[TRANSFER_TARGET[scope]], reason="moving", requested_by=world.owner_of[scope]),
        write={"accept": {"manager"}, "reject": {"manager"}},
    ),
}
