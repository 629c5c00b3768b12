"""Matrix expectations for the services API.

Sites and activities are public programmes read by everyone who works with families or volunteers,
by region. Insurance rosters, claims, disbursements and check-ups belong to a family: the caseload
decides for social workers and contact persons; coordinators and volunteers never see them.
"""
import datetime

from django.utils import timezone

from services.models import (
    Activity,
    ActivityAttendance,
    ActivityInvitation,
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)
from tests.api.matrix import CASEWORK, DENY, RoutePolicy, Sees

IN_REGION = {"own", "colleague"}
BY_REGION = Sees(alice=IN_REGION, bob=IN_REGION, carol={"outside"}, manager=IN_REGION, coordinator=IN_REGION,
                 volunteer=IN_REGION, auditor=DENY, contact=IN_REGION)
# Policies are contracts of a region: casework roles read them whole in their subtree.
POLICY_READERS = {**BY_REGION, "coordinator": DENY, "volunteer": DENY}
SOCIAL_WORKERS = {"alice", "bob", "carol"}
# Diagnoses and findings are health: social workers and managers, never contact persons.
SENSITIVE_READERS = SOCIAL_WORKERS | {"manager"}


def mother_of(world, scope):
    return world.families[scope].members.get(relation="mother")


def activity_in(world, scope):
    starts_at = timezone.now() - datetime.timedelta(minutes=10)  # begun: check-in opens at the start
    return Activity.objects.create(title=f"庆生{scope}", category="birthday", region=world.region_of[scope],
                                   starts_at=starts_at, ends_at=starts_at + datetime.timedelta(hours=2))


def policy_in(world, scope):
    policy = InsurancePolicy.objects.create(
        insurer="人保", product_kind="critical_illness", region=world.region_of[scope], starts_on=datetime.date(2026, 1, 1),
        ends_on=datetime.date(2026, 12, 31), premium=1000, status="active")
    InsuredPerson.objects.create(policy=policy, member=mother_of(world, scope))
    return policy


def fund_in(world, scope):
    return Fund.objects.create(name=f"慰问金{scope}", programme="consolation", year=2026, budget=10000,
                               region=world.region_of[scope])


ROUTE_POLICIES = {
    "servicesite": RoutePolicy(
        read=BY_REGION,
        make=lambda world, scope: ServiceSite.objects.create(kind="warm_heart_home", name=f"暖心家园{scope}",
                                                             region=world.region_of[scope]),
        write={"create": {"manager"}, "update": {"manager"}},
    ),
    "activity": RoutePolicy(
        read=BY_REGION,
        make=activity_in,
        write={"create": {"manager", "coordinator"}, "update": {"manager", "coordinator"},
               "checkin": {"manager", "coordinator"}, "checkin_by_token": {"manager", "coordinator", "volunteer"},
               "invite": {"manager", "coordinator"}, "attendance": {"manager", "coordinator"}},
    ),
    "activityinvitation": RoutePolicy(
        read={**BY_REGION, "volunteer": DENY},
        make=lambda world, scope: ActivityInvitation.objects.create(activity=activity_in(world, scope),
                                                                    member=mother_of(world, scope)),
    ),
    "activityattendance": RoutePolicy(
        read={**BY_REGION, "volunteer": DENY},
        make=lambda world, scope: ActivityAttendance.objects.create(activity=activity_in(world, scope),
                                                                    member=mother_of(world, scope)),
    ),
    "fund": RoutePolicy(
        read=Sees(alice=DENY, bob=DENY, carol=DENY, manager=IN_REGION, coordinator=IN_REGION, volunteer=DENY,
                  auditor=DENY, contact=DENY),
        make=fund_in,
        write={"create": {"manager"}, "update": {"manager"}},
    ),
    "insurancepolicy": RoutePolicy(
        read=POLICY_READERS,
        make=policy_in,
        write={"create": {"manager"}, "update": {"manager"}, "renew": {"manager"}, "activate": {"manager"}},
    ),
    "insuredperson": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: policy_in(world, scope).roster.get(),
        # Region managers add people; only administrators (not in the matrix) may remove them.
        write={"create": {"manager"}, "destroy": set()},
    ),
    "insuranceclaim": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: InsuranceClaim.objects.create(
            policy=policy_in(world, scope), member=mother_of(world, scope), incident_date=datetime.date(2026, 3, 1),
            amount_claimed=5000, diagnosis="肺炎"),
        write={"create": SOCIAL_WORKERS | {"manager"}, "settle": SOCIAL_WORKERS | {"manager"},
               "reject": SOCIAL_WORKERS | {"manager"}, "reveal": SENSITIVE_READERS},
    ),
    "disbursement": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: Disbursement.objects.create(
            fund=fund_in(world, scope), kind="other", amount=500, family=world.families[scope],
            paid_on=datetime.date(2026, 2, 1)),
        write={"create": {"manager"}},
    ),
    # A premium paid for one person belongs to that person's family: the caseload decides, as for the roster.
    "premiumpayment": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: PremiumPayment.objects.create(
            policy=policy_in(world, scope), member=mother_of(world, scope), paid_on=datetime.date(2026, 1, 5), amount=100),
        write={"create": {"manager"}},
    ),
    # Consolation visits are casework: contact persons record the visits they make.
    "consolationvisit": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: ConsolationVisit.objects.create(
            family=world.families[scope], visited_on=datetime.date(2026, 1, 20), cash=500, visiting_party="县计生协"),
        write={"create": SOCIAL_WORKERS | {"manager", "contact"}, "update": SOCIAL_WORKERS | {"manager", "contact"}},
    ),
    "healthcheckup": RoutePolicy(
        read=CASEWORK,
        make=lambda world, scope: HealthCheckup.objects.create(member=mother_of(world, scope), date=datetime.date(2026, 4, 1),
                                                               provider="县医院", findings="血压偏高"),
        write={"create": SOCIAL_WORKERS | {"manager"}, "update": SOCIAL_WORKERS | {"manager"},
               "reveal": SENSITIVE_READERS},
    ),
}
