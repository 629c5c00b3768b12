"""The demo's working day: what each demo login finds on its first sign-in, made with the same
services a user's actions call, and the morning's reminders sent at once.

``seed_demo`` writes a year of casework for a whole city; which families fall due today, which
training is tomorrow or which policy ends next month is left to chance there. ``story_stage`` makes
sure the regions of the demo logins hold each part of the story for the day it runs — families
overdue, due today and coming up; a training tomorrow with a waiting list; a "5+N" activity
planned at a site; a policy to renew; a break-the-glass grant and a revealed phone for the auditor
to read — adding only the parts that are missing, so a second run on the same day adds nothing.
Then it runs today's periods of the daily sweeps through the job ledger (``jobs.job_run``), as
the beat would at dawn: the reminders are on Today at once, and the morning's beat finds the day
done, while the reminders' own keys keep any later run from telling anyone twice.
"""
import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from casemgmt.core import jobs, privacy
from casemgmt.core.idcard import make_id_number
from casemgmt.core.models import AuditEvent, Region
from casemgmt.security.models import BreakGlassGrant
from casemgmt.security.services import breakglass_open
from families import services as family_services
from families.models import ContactAssignment, Family, FamilyMember
from families.services import OPEN_STATUSES, cadence_rules_for
from services.models import Activity, InsurancePolicy, InsuredPerson, ServiceSite
from volunteers import services as volunteer_services
from volunteers.models import Enrollment, Qualification, TrainingCourse, Volunteer

# The daily sweeps the beat runs at dawn (casemgmt.core.beat), run for today by the demo.
DAILY_JOBS = ("families.checkin_sweep", "families.sensitive_dates_sweep", "services.insurance_sweep",
              "volunteers.training_sweep")
# Where a caseload's families stand, relative to today, when a part of the day is missing.
OVERDUE_DAYS, COMING_UP_DAYS = 10, 3
REASON_CALL = "上门前电话确认老人在家"
REASON_GLASS = "夜间接到邻居电话，老人独居未接电话，需要核实住址和联系人"
# Parents of the families the story registers are born in 1938-1942: no generated parent
# (1944 or later) nor volunteer (1960 or later) has those birth dates, so no ID number repeats.
STORY_BIRTH_YEAR = 1940


def story_stage(*, users, regions, today=None):
    """Make sure the demo logins' regions hold every part of the day, then send today's reminders.
    ``users``: {username: User}; ``regions``: {"city", "county", "township"}. Idempotent per day."""
    today = today or timezone.localdate()
    with transaction.atomic():
        _caseload_day(users=users, township=regions["township"], today=today)
        _training_tomorrow(users=users, county=regions["county"], today=today)
        _qualification_expiring(users=users, today=today)
        _activity_planned(users=users, county=regions["county"], today=today)
        _renewal_coming(users=users, county=regions["county"], today=today)
        _break_glass(users=users, county=regions["county"])
        _phone_revealed(users=users)
    return reminders_send(today=today)


def reminders_send(*, today):
    """Today's period of each daily sweep, done now and marked done in the ledger, for every region
    it splits into: what the beat would do at dawn. Returns the new reminders' counts by job."""
    counts = {}
    for name in DAILY_JOBS:
        job = jobs.registry()[name]
        period = jobs.period_of(job, today)
        for region_path in (job.split() if job.split else [""]):
            result = jobs.job_run(name=name, period=period, region_path=region_path)
            if result:
                counts[name] = counts.get(name, 0) + sum(v for v in result.values() if isinstance(v, int))
    return counts


# --- the parts of the day -------------------------------------------------------------------------

def _caseload_day(*, users, township, today):
    """The social worker's and the contact person's Today: a family overdue, one due today, one
    coming up. What the caseload lacks is a family registered there and never contacted yet, its
    registration as long ago as its cadence makes it due on the wanted day."""
    caseload = Family.objects.filter(
        status__in=OPEN_STATUSES, region_path__startswith=township.path,
        assignments__user=users["demo-contact"], assignments__ended_on__isnull=True)
    wanted = {
        "overdue": (caseload.filter(next_checkin_due__lt=today), -OVERDUE_DAYS),
        "due_today": (caseload.filter(next_checkin_due=today), 0),
        "coming_up": (caseload.filter(next_checkin_due__gt=today,
                                      next_checkin_due__lte=today + datetime.timedelta(days=COMING_UP_DAYS)),
                      COMING_UP_DAYS),
    }
    village = Region.objects.filter(parent=township, level=Region.Level.VILLAGE, is_active=True).order_by("code").first()
    for part, (families, offset) in wanted.items():
        if village is None or families.exists():
            continue
        _family_new(users=users, village=village, due=today + datetime.timedelta(days=offset), today=today, part=part)


PARTS = ("overdue", "due_today", "coming_up")
PARENTS = {"overdue": ("林建华", "周秀兰"), "due_today": ("陈永福", "黄美华"), "coming_up": ("吴振东", "郑月娥")}


def _family_new(*, users, village, due, today, part):
    rule = cadence_rules_for(village.path, Family._meta.get_field("risk_level").default)
    contact_days = rule.contact_interval_days if rule else 30
    number = f"ZZN{today:%Y%m%d}{PARTS.index(part)}"
    if Family.objects.filter(file_number=number).exists():
        return
    family = family_services.family_register(
        actor=users["demo-manager"], region=village, category="bereaved", file_number=number,
        address=f"{village.full_name}新村路{8 + len(part)}号", registered_on=due - datetime.timedelta(days=contact_days))
    # A sequence number per day and part keeps the ID numbers of two days' families apart.
    seq = 2 * ((today.toordinal() * 3 + PARTS.index(part)) % 400)
    birth = datetime.date(STORY_BIRTH_YEAR + seq % 4, 1 + seq % 12, 1 + seq % 28)
    father, mother = PARENTS[part]
    FamilyMember.objects.create(family=family, name=mother, relation="mother", phone=f"1390596{seq:04d}",
                                id_number=make_id_number(village.code[:6], birth, seq))
    FamilyMember.objects.create(family=family, name=father, relation="father",
                                id_number=make_id_number(village.code[:6], birth - datetime.timedelta(days=400), seq + 1))
    for username, kind in (("demo-socialworker", "social_worker"), ("demo-contact", "township_contact")):
        family_services.assignment_set(actor=users["demo-manager"], family=family, kind=kind, user=users[username],
                                       started_on=family.registered_on, reason="新登记家庭")


def _training_tomorrow(*, users, county, today):
    """A session of a city course in the county tomorrow morning, full, two on its waiting list, the
    demo volunteer among those with a place: the training sweep reminds them tonight."""
    volunteer = Volunteer.objects.filter(user=users["demo-volunteer"]).first()
    tomorrow = today + datetime.timedelta(days=1)
    if volunteer is None or Enrollment.objects.filter(
            volunteer=volunteer, session__starts_at__date=tomorrow, session__status="scheduled").exists():
        return
    course = TrainingCourse.objects.filter(region__in=[county, county.parent]).order_by("id").first()
    if course is None:
        return
    starts = timezone.make_aware(datetime.datetime.combine(tomorrow, datetime.time(9, 30)))
    coordinator = users["demo-coordinator"]
    others = list(Volunteer.objects.filter(region__path__startswith=county.path, status=Volunteer.Status.ACTIVE)
                  .exclude(pk=volunteer.pk).order_by("id")[:5])
    session = volunteer_services.training_session_schedule(
        actor=coordinator, course=course, region=county, starts_at=starts, ends_at=starts + datetime.timedelta(hours=3),
        venue=f"{county.name}暖心家园培训室", capacity=max(1, len(others) - 1), trainer="林医生")
    for who in [volunteer, *others]:
        try:
            volunteer_services.enrollment_create(actor=coordinator, session=session, volunteer=who)
        except ValidationError:  # already booked at that hour: the next volunteer takes the place
            continue


def _qualification_expiring(*, users, today):
    """The demo volunteer's certificate from a course two years ago expires in three weeks: the
    training sweep tells them and their coordinator (tomorrow's session renews it)."""
    volunteer = Volunteer.objects.filter(user=users["demo-volunteer"]).first()
    soon = today + datetime.timedelta(days=21)
    if volunteer is None or Qualification.objects.filter(
            volunteer=volunteer, expires_on__gte=today, expires_on__lte=soon).exists():
        return
    course = TrainingCourse.objects.filter(validity_months__isnull=False).exclude(qualification_name="").order_by(
        "id").first()
    if course is None:
        return
    Qualification.objects.create(
        volunteer=volunteer, name=course.qualification_name, course=course, granted_on=soon - datetime.timedelta(
            days=30 * course.validity_months), expires_on=soon, certificate_number=f"ZZ{soon:%Y%m%d}{volunteer.pk:05d}")


def _activity_planned(*, users, county, today):
    """A "5+N" knowledge lecture at the county's Warm Heart Home next week, organised by the coordinator."""
    coordinator = users["demo-coordinator"]
    if Activity.objects.filter(organiser=coordinator, starts_at__date__gt=today, site__isnull=False).exists():
        return
    site = (ServiceSite.objects.filter(region__path__startswith=county.path, kind="warm_heart_home").order_by("id").first()
            or ServiceSite.objects.filter(region__path__startswith=county.path).order_by("id").first())
    if site is None:
        return
    starts = timezone.make_aware(datetime.datetime.combine(today + datetime.timedelta(days=7), datetime.time(9, 30)))
    Activity.objects.create(
        title=f"{county.name}冬季养生知识讲座", category=Activity.Category.LECTURE, site=site, region=county,
        starts_at=starts, ends_at=starts + datetime.timedelta(hours=2), capacity=40, organiser=coordinator,
        status=Activity.Status.PLANNED, description="计生特殊家庭“5+N”关爱活动：请县医院医生讲冬季慢病防护")


def _renewal_coming(*, users, county, today):
    """An accident-insurance policy of the county ending within the renewal window, the county's
    manager responsible (insurance is casework): the insurance sweep reminds them and drafts its renewal."""
    manager = users["demo-manager"]
    ending = InsurancePolicy.objects.filter(
        region=county, status=InsurancePolicy.Status.ACTIVE, responsible=manager,
        ends_on__gte=today, ends_on__lte=today + datetime.timedelta(days=60))
    number = f"YW{today:%Y%m%d}{county.code[:6]}"
    if ending.exists() or InsurancePolicy.objects.filter(policy_number=number).exists():
        return
    ends = today + datetime.timedelta(days=45)
    policy = InsurancePolicy.objects.create(
        insurer="中国平安财产保险漳州中心支公司", product_kind=InsurancePolicy.ProductKind.ACCIDENT,
        policy_number=number, region=county, starts_on=ends - datetime.timedelta(days=364),
        ends_on=ends, premium=Decimal("12000"), status=InsurancePolicy.Status.ACTIVE, responsible=manager)
    members = FamilyMember.objects.filter(
        family__region_path__startswith=county.path, family__status__in=OPEN_STATUSES, is_deceased=False,
        relation__in=("mother", "father")).order_by("id")[:60]
    InsuredPerson.objects.bulk_create([InsuredPerson(policy=policy, member=m, premium=Decimal("45.00"),
                                                     added_on=policy.starts_on) for m in members],
                                      ignore_conflicts=True)


def _break_glass(*, users, county):
    """The social worker opened, for a night's emergency, a family of the county outside their
    caseload: the county's manager was told, and the auditor reads it in the trail."""
    worker = users["demo-socialworker"]
    if BreakGlassGrant.objects.filter(user=worker).exists():
        return
    theirs = ContactAssignment.objects.filter(user=worker, ended_on__isnull=True).values("family_id")
    others = Family.objects.exclude(pk__in=theirs).order_by("id")
    # An open case of the county if the caseload left one, else a closed one there (an old client
    # calling again), else one of the next county.
    family = (others.filter(region_path__startswith=county.path, status__in=OPEN_STATUSES).first()
              or others.filter(region_path__startswith=county.path).first()
              or others.filter(region_path__startswith=county.parent.path).first())
    if family is not None:
        breakglass_open(actor=worker, family=family, reason=REASON_GLASS)


def _phone_revealed(*, users):
    """Tap-to-call: the social worker revealed a mother's phone before a visit (one audited act)."""
    worker = users["demo-socialworker"]
    if AuditEvent.objects.filter(actor=worker, event=privacy.reveal_event(FamilyMember)).exists():
        return
    mothers = FamilyMember.objects.filter(
        family__assignments__user=worker, family__assignments__ended_on__isnull=True, relation="mother",
        is_deceased=False).order_by("family_id")[:20]
    member = next((m for m in mothers if m.phone), None)  # an encrypted column: no lookup by its value
    if member is not None:
        privacy.reveal(actor=worker, obj=member, names=["phone"], reason=REASON_CALL, surface="workspace")
