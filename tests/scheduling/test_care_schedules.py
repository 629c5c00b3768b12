"""Sensitive dates, insurance renewals, training, group birthdays, annual review and the beat rows."""
import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from casemgmt.core.beat import SCHEDULE, sync_beat_schedule
from casemgmt.core.models import Notification, Role
from families.calendar import festival_dates, is_quiet_day
from families.models import AnnualReview, AssistanceEnrollment, CareTask, ContactAssignment, FamilyMember
from families.reminders import annual_review_open, review_deadlines, sensitive_dates_sweep
from services.birthdays import birthday_celebration_create, birthday_lists_send
from services.models import Activity, InsurancePolicy, InsuredPerson, ServiceSite
from services.reminders import insurance_sweep
from tests.conftest import make_user
from volunteers.models import Enrollment, Qualification, TrainingCourse, TrainingSession, Volunteer
from volunteers.reminders import training_sweep


def kinds(user):
    return sorted(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_festival_dates_come_from_the_lunar_calendar():
    assert festival_dates(2026) == {
        "spring_festival": datetime.date(2026, 2, 17), "qingming": datetime.date(2026, 4, 5),
        "mid_autumn": datetime.date(2026, 9, 25),
    }


@pytest.mark.django_db
def test_anniversary_festival_and_lunar_birthday_create_one_task_each(regions, people, families):
    family = families["own"]
    ContactAssignment.objects.create(family=family, user=people["contact"], kind="village_contact")
    FamilyMember.objects.create(family=family, name="李小明", relation="child", is_deceased=True,
                                death_date=datetime.date(2015, 9, 28))
    # Mid-Autumn (lunar 8/15) is 2026-09-25, so lunar 8/20 is 2026-09-30.
    FamilyMember.objects.filter(family=family, relation="father").update(
        birthday_calendar="lunar", lunar_birth_month=8, lunar_birth_day=20)
    today = datetime.date(2026, 9, 24)
    sensitive_dates_sweep(today=today, ahead_days=7)
    tasks = {t.kind: t for t in CareTask.objects.filter(family=family)}
    assert set(tasks) == {"festival", "anniversary", "birthday"}
    assert tasks["festival"].due_on == datetime.date(2026, 9, 25)
    assert tasks["anniversary"].due_on == datetime.date(2026, 9, 28)
    assert tasks["birthday"].due_on == datetime.date(2026, 9, 30)
    assert tasks["festival"].assignee == people["contact"]  # the village contact visits
    assert tasks["anniversary"].dedup_key == f"anniversary:{family.pk}:2026"
    assert kinds(people["alice"]) == ["caretask.anniversary", "caretask.birthday", "caretask.festival"]
    # Other families only get the festival; running again creates nothing.
    assert set(CareTask.objects.filter(family=families["outside"]).values_list("kind", flat=True)) == {"festival"}
    count = CareTask.objects.count()
    assert sensitive_dates_sweep(today=today, ahead_days=7) == 0
    assert CareTask.objects.count() == count
    assert is_quiet_day(family, datetime.date(2026, 9, 28))
    assert is_quiet_day(family, datetime.date(2026, 9, 25))
    assert not is_quiet_day(family, datetime.date(2026, 9, 27))
    assert not is_quiet_day(families["outside"], datetime.date(2026, 9, 28))


@pytest.mark.django_db
def test_insurance_thresholds_draft_renewal_and_gaps(regions, people, families):
    admin = people["city_admin"]
    today = datetime.date(2026, 6, 1)
    policy = InsurancePolicy.objects.create(
        insurer="人保", product_kind="critical_illness", policy_number="P-1", region=regions["zhangzhou"],
        starts_on=datetime.date(2025, 7, 1), ends_on=datetime.date(2026, 6, 30), premium=Decimal("1000"),
        status="active", responsible=admin,
    )
    insured = FamilyMember.objects.filter(family=families["own"])
    for member in insured:
        InsuredPerson.objects.create(policy=policy, member=member)
    lapsed = InsurancePolicy.objects.create(
        insurer="平安", product_kind="accident", policy_number="P-0", region=regions["zhangpu"],
        starts_on=datetime.date(2025, 5, 1), ends_on=datetime.date(2026, 4, 30), premium=Decimal("10"), status="active",
    )
    insurance_sweep(today=today)
    assert InsurancePolicy.objects.filter(renews=policy, status="draft").count() == 1
    renewal = InsurancePolicy.objects.get(renews=policy)
    assert set(renewal.roster.values_list("member_id", flat=True)) == set(insured.values_list("pk", flat=True))
    keys = set(Notification.objects.filter(recipient=admin).values_list("dedup_key", flat=True))
    assert f"policy:ending:{policy.pk}:30:{admin.pk}" in keys
    assert f"policy:lapsed:{lapsed.pk}:{admin.pk}" in keys
    assert any(k.startswith("insurance:uncovered:350623:") for k in keys)  # the colleague family has no cover
    insurance_sweep(today=today + datetime.timedelta(days=1))  # same threshold: nothing new
    assert Notification.objects.filter(dedup_key__startswith=f"policy:ending:{policy.pk}:").count() == 1
    insurance_sweep(today=datetime.date(2026, 6, 25))
    assert Notification.objects.filter(dedup_key__startswith=f"policy:ending:{policy.pk}:").count() == 2
    assert InsurancePolicy.objects.filter(renews=policy).count() == 1


@pytest.mark.django_db
def test_training_day_before_and_expiring_qualification(regions, people):
    volunteer = Volunteer.objects.create(name="张志愿", region=regions["suian"], user=people["volunteer_user"])
    course = TrainingCourse.objects.create(title="心理慰藉", region=regions["zhangpu"])
    today = timezone.localdate()
    starts = timezone.make_aware(datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time(14)))
    session = TrainingSession.objects.create(course=course, region=regions["zhangpu"], starts_at=starts,
                                             ends_at=starts + datetime.timedelta(hours=2), venue="会议室", capacity=10)
    Enrollment.objects.create(session=session, volunteer=volunteer)
    Qualification.objects.create(volunteer=volunteer, name="心理咨询", granted_on=today - datetime.timedelta(days=300),
                                 expires_on=today + datetime.timedelta(days=20))
    training_sweep(today=today)
    assert kinds(people["volunteer_user"]) == ["training.qualification_expiring", "training.session_tomorrow"]
    assert kinds(people["coordinator"]) == ["training.qualification_expiring"]
    assert training_sweep(today=today) == 0


@pytest.mark.django_db
def test_birthday_list_and_celebration_in_one_step(regions, people, families):
    site = ServiceSite.objects.create(kind="warm_heart_home", name="绥安暖心家园", region=regions["zhangpu"],
                                      coordinator=people["coordinator"])
    # The fixture mothers are born 1968-03-05, fathers 1966-07-09; one father keeps a lunar birthday in March.
    FamilyMember.objects.filter(family=families["colleague"], relation="father").update(
        birthday_calendar="lunar", lunar_birth_month=2, lunar_birth_day=1)  # lunar 2/1 = 2027-03-08
    birthday_lists_send(today=datetime.date(2027, 2, 1))
    note = Notification.objects.get(recipient=people["coordinator"], kind="birthdays.monthly_list")
    # Mailed and texted: names masked (the birthday page has them in full).
    assert note.body.count("王*英") == 2 and "李*国" in note.body and "YX-0001" not in note.body
    assert "王秀英" not in note.body
    assert birthday_lists_send(today=datetime.date(2027, 2, 1)) == 0
    activity = birthday_celebration_create(actor=people["coordinator"], site=site, month=3, year=2027)
    assert activity.category == Activity.Category.BIRTHDAY and activity.status == "planned"
    assert activity.description.count("\n") == 2 and activity.site == site
    # The same month twice is refused, naming the celebration already planned; once cancelled, it can be planned again.
    with pytest.raises(ValidationError) as refused:
        birthday_celebration_create(actor=people["coordinator"], site=site, month=3, year=2027)
    assert activity.title in refused.value.message_dict["month"][0]
    assert Activity.objects.filter(site=site, category=Activity.Category.BIRTHDAY).count() == 1
    Activity.objects.filter(pk=activity.pk).update(status=Activity.Status.CANCELLED)
    assert birthday_celebration_create(actor=people["coordinator"], site=site, month=3, year=2027).pk != activity.pk


@pytest.mark.django_db
def test_annual_review_worklist_and_mothers_turning_49(regions, people, families, settings):
    settings.ANNUAL_REVIEW_DEADLINES = {"35": {"apply": "01-20"}}
    ContactAssignment.objects.create(family=families["own"], user=people["contact"], kind="township_contact")
    mother = FamilyMember.objects.get(family=families["own"], relation="mother")
    AssistanceEnrollment.objects.create(member=mother, family=families["own"], status="approved")
    young = FamilyMember.objects.get(family=families["colleague"], relation="mother")
    FamilyMember.objects.filter(pk=young.pk).update(birth_date=datetime.date(1978, 5, 1), sex="F")
    annual_review_open(year=2026)
    assert AnnualReview.objects.filter(year=2026, status="pending").count() == 1
    worklist = Notification.objects.get(recipient=people["contact"], kind="review.worklist")
    assert "2026-01-20" in worklist.title and "2026-02-15" in worklist.title
    assert kinds(people["bob"]) == ["review.turning_49"]
    assert annual_review_open(year=2026) == 0
    assert review_deadlines("440000", 2026)["apply"] == datetime.date(2026, 1, 15)


@pytest.mark.django_db
def test_beat_rows_exist_and_admin_edits_survive_a_sync():
    from django_celery_beat.models import PeriodicTask

    assert set(PeriodicTask.objects.filter(name__in=SCHEDULE).values_list("name", flat=True)) == set(SCHEDULE)
    row = PeriodicTask.objects.get(name="Check-in cadence sweep")
    row.enabled = False
    row.crontab.hour = "6"
    row.crontab.save()
    row.save()
    PeriodicTask.objects.filter(name="Send due notifications").delete()
    sync_beat_schedule()
    row.refresh_from_db()
    assert row.enabled is False and row.crontab.hour == "6"
    assert PeriodicTask.objects.filter(name="Send due notifications", task="core.dispatch_deliveries").exists()


def test_role_import_is_used():
    assert Role.VOLUNTEER_COORDINATOR == "volunteer_coordinator"
    assert make_user
