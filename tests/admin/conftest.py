"""One row of every registered model inside the 漳浦县 manager's reach, for the admin page tests."""
import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from casemgmt.core.models import Notification
from families import services as family_services
from families.models import (
    AnnualReview,
    AssessmentScale,
    AssistanceEnrollment,
    AssistanceRate,
    CarePlan,
    CarePlanGoal,
    CareTask,
    ConsentRecord,
    FamilyTransfer,
)
from services.models import (
    Activity,
    ActivityAttendance,
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


def _optional_rows(people, families):
    """Rows for models other helpers add to core; created only when the model exists."""
    makers = {
        "core.notificationpreference": lambda m: m.objects.create(user=people["root"]),
        # Sign-in security (django-axes, django-otp) and the security app's records.
        "axes.accessattempt": lambda m: m.objects.create(username="x", ip_address="10.0.0.1", user_agent="t",
                                                         failures_since_start=1),
        "axes.accesslog": lambda m: m.objects.create(username="x", ip_address="10.0.0.1", user_agent="t"),
        "axes.accessfailurelog": lambda m: m.objects.create(username="x", ip_address="10.0.0.1", user_agent="t"),
        "otp_totp.totpdevice": lambda m: m.objects.create(user=people["manager"], name="phone"),
        "security.breakglassgrant": lambda m: m.objects.create(
            user=people["manager"], family=families["own"], reason="夜间求助电话",
            expires_at=timezone.now() + datetime.timedelta(hours=4)),
        "security.familymessage": lambda m: m.objects.create(family=families["own"], channel="sms", status="sent",
                                                             sent_by=people["manager"]),
        "security.anonymisation": lambda m: m.objects.create(family=families["colleague"], reason="test"),
        "security.enrolmentwindow": lambda m: m.objects.create(
            user=people["bob"], opened_by=people["manager"], reason="手机丢失",
            expires_at=timezone.now() + datetime.timedelta(hours=72)),
        "core.jobrun": lambda m: m.objects.create(job="families.checkin_sweep", period="2026-01-05",
                                                  region_path="350623", due_at=timezone.now(), outcome="done"),
    }
    for label, make in makers.items():
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        make(model)
    try:
        delivery = apps.get_model("core.delivery")
    except LookupError:
        return
    note = Notification.objects.filter(recipient=people["root"]).first()
    delivery.objects.create(notification=note, recipient=people["root"], channel="email")


@pytest.fixture
def dataset(regions, people, families):
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    root, manager, alice = people["root"], people["manager"], people["alice"]
    zhangpu, village = regions["zhangpu"], regions["village"]
    own = families["own"]
    mother = own.members.get(relation="mother")
    today = timezone.localdate()
    now = timezone.now()

    family_services.checkin_record(actor=alice, family=own, channel="phone", mental_state="low", mental_notes="想念孩子")
    family_services.family_set_risk(actor=manager, family=own, level="yellow", reason="清明将至")
    scale = AssessmentScale.objects.create(code="phq9", name="PHQ-9", max_score=27, bands=[[0, "green"], [10, "orange"]])
    family_services.assessment_record(actor=alice, family=own, scale=scale, score=5, member=mother)
    plan = CarePlan.objects.create(family=own, title="哀伤辅导", owner=alice)
    goal = CarePlanGoal.objects.create(plan=plan, description="每周外出一次")
    CareTask.objects.create(family=own, plan=plan, goal=goal, description="陪同散步", due_on=today)
    AssistanceRate.objects.create(category="bereaved", residence="rural", monthly_amount=Decimal("790"),
                                  effective_from=datetime.date(2024, 1, 1), region=zhangpu)
    enrollment = AssistanceEnrollment.objects.create(member=mother, family=own, bank_name="农商银行",
                                                     bank_account="6222020200112233445")
    AnnualReview.objects.create(enrollment=enrollment, year=today.year)
    ConsentRecord.objects.create(family=own, member=mother, purpose="case_management", recorded_by=alice)
    FamilyTransfer.objects.create(family=own, from_region=village, to_region=regions["yx_village"], reason="搬家",
                                  requested_by=manager)

    skill = Skill.objects.create(code="psy", name="心理咨询", is_professional=True)
    team = Team.objects.create(name="漳浦暖心队", region=zhangpu)
    volunteer = Volunteer.objects.create(name="陈志愿", phone="13900000009", region=zhangpu, team=team)
    volunteer.skills.add(skill)
    course = TrainingCourse.objects.create(title="哀伤陪伴", region=zhangpu, skill=skill, qualification_name="陪伴员")
    session = TrainingSession.objects.create(course=course, region=zhangpu, starts_at=now, venue="县计生协",
                                             ends_at=now + datetime.timedelta(hours=2), capacity=20)
    Enrollment.objects.create(session=session, volunteer=volunteer)
    Qualification.objects.create(volunteer=volunteer, name="陪伴员", course=course, granted_on=today)
    Pairing.objects.create(volunteer=volunteer, family=own)
    ServiceHours.objects.create(volunteer=volunteer, family=own, date=today, hours=Decimal("2.0"), description="陪伴")

    site = ServiceSite.objects.create(kind="warm_heart_home", name="绥安暖心家园", region=regions["suian"])
    activity = Activity.objects.create(title="集体庆生", category="birthday", site=site, region=zhangpu, starts_at=now,
                                       ends_at=now + datetime.timedelta(hours=3))
    ActivityAttendance.objects.create(activity=activity, member=mother)
    fund = Fund.objects.create(name="慰问金", programme="consolation", year=today.year, budget=Decimal("10000"), region=zhangpu)
    policy = InsurancePolicy.objects.create(
        insurer="人保", product_kind="critical_illness", policy_number="P-1", region=zhangpu, status="active",
        starts_on=datetime.date(today.year, 1, 1), ends_on=datetime.date(today.year, 12, 31), premium=Decimal("100"),
    )
    InsuredPerson.objects.create(policy=policy, member=mother)
    InsuranceClaim.objects.create(policy=policy, member=mother, incident_date=today, amount_claimed=Decimal("500"),
                                  diagnosis="高血压")
    Disbursement.objects.create(fund=fund, kind="other", amount=Decimal("500"), family=own, paid_on=today)
    HealthCheckup.objects.create(member=mother, date=today, provider="县医院", findings="血压偏高")
    PremiumPayment.objects.create(policy=policy, member=mother, paid_on=today, amount=Decimal("100"))
    ConsolationVisit.objects.create(family=own, member=mother, visited_on=today, visitor=people["manager"], occasion="春节",
                                    cash=Decimal("500"), notes="老人情绪稳定")

    for user in (root, manager):
        Notification.objects.create(recipient=user, kind="reminder", title="走访提醒", dedup_key=f"t:{user.pk}", family=own)

    interval = IntervalSchedule.objects.create(every=1, period="days")
    CrontabSchedule.objects.create(minute="0", hour="8")
    SolarSchedule.objects.create(event="sunrise", latitude=24.1, longitude=117.6)
    ClockedSchedule.objects.create(clocked_time=now)
    PeriodicTask.objects.create(name="demo", task="demo.task", interval=interval)
    _optional_rows(people, families)
    return {"volunteer": volunteer, "policy": policy, "activity": activity, "session": session, "plan": plan}
