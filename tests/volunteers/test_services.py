import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import AuditEvent, Notification
from families.models import Family
from tests.concurrency import race
from volunteers import services
from volunteers.models import Enrollment, Pairing, Qualification, ServiceHours, TrainingCourse, TrainingSession

from .conftest import begin, make_session, make_volunteer

pytestmark = pytest.mark.django_db

E = Enrollment.Status


# --- enrolment and the waiting list -------------------------------------------------------------

def test_enrolment_takes_a_free_place_then_waitlists(regions, people, volunteers):
    session = make_session(regions["zhangpu"], capacity=1)
    coordinator = people["coordinator"]
    first = services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["own"])
    second = services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["second"])
    assert (first.status, second.status) == (E.ENROLLED, E.WAITLISTED)
    assert AuditEvent.objects.filter(event="volunteers.enrollment.waitlisted", object_ids=[second.pk]).exists()


def test_enrolling_twice_is_refused(regions, people, volunteers):
    session = make_session(regions["zhangpu"], capacity=3)
    services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["own"])
    with pytest.raises(ValidationError):
        services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["own"])
    assert Enrollment.objects.filter(session=session).count() == 1


def test_overlapping_sessions_cannot_both_be_booked(regions, people, volunteers):
    morning = make_session(regions["zhangpu"], start_in=datetime.timedelta(days=3), hours=3, capacity=5)
    overlapping = make_session(regions["zhangpu"], start_in=datetime.timedelta(days=3, hours=2), capacity=5)
    afterwards = make_session(regions["zhangpu"], start_in=datetime.timedelta(days=3, hours=3), capacity=5)
    coordinator, volunteer = people["coordinator"], volunteers["own"]
    services.enrollment_create(actor=coordinator, session=morning, volunteer=volunteer)
    with pytest.raises(ValidationError) as exc:
        services.enrollment_create(actor=coordinator, session=overlapping, volunteer=volunteer)
    assert "session" in exc.value.message_dict
    # Back to back is not an overlap.
    assert services.enrollment_create(actor=coordinator, session=afterwards, volunteer=volunteer).status == E.ENROLLED


def test_a_waiting_list_entry_also_books_the_time(regions, people, volunteers):
    full = make_session(regions["zhangpu"], capacity=1)
    services.enrollment_create(actor=people["coordinator"], session=full, volunteer=volunteers["second"])
    services.enrollment_create(actor=people["coordinator"], session=full, volunteer=volunteers["own"])
    same_time = make_session(regions["zhangpu"], capacity=5)
    with pytest.raises(ValidationError):
        services.enrollment_create(actor=people["coordinator"], session=same_time, volunteer=volunteers["own"])


def test_enrolment_outside_reach_and_for_someone_else_is_refused(regions, people, volunteers):
    session = make_session(regions["zhangpu"], capacity=5)
    with pytest.raises(OutOfReachError):
        services.enrollment_create(actor=people["other_manager"], session=session, volunteer=volunteers["own"])
    # A volunteer enrols themself, not others.
    with pytest.raises(OutOfReachError):
        services.enrollment_create(actor=people["volunteer_user"], session=session, volunteer=volunteers["second"])
    mine = services.enrollment_create(actor=people["volunteer_user"], session=session, volunteer=volunteers["own"])
    assert mine.status == E.ENROLLED


def test_past_or_cancelled_sessions_take_no_enrolment(regions, people, volunteers):
    past = make_session(regions["zhangpu"], start_in=-datetime.timedelta(hours=3))
    cancelled = make_session(regions["zhangpu"], status=TrainingSession.Status.CANCELLED)
    for session in (past, cancelled):
        with pytest.raises(ValidationError):
            services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["own"])


def test_cancel_promotes_the_first_on_the_waiting_list_and_tells_them(regions, people, volunteers):
    session = make_session(regions["zhangpu"], capacity=1)
    coordinator = people["coordinator"]
    holder = services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["second"])
    first_waiting = services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["own"])
    later_waiting = services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["third"])

    promoted = services.enrollment_cancel(actor=coordinator, enrollment=holder)

    assert promoted.pk == first_waiting.pk
    statuses = dict(Enrollment.objects.filter(session=session).values_list("pk", "status"))
    assert statuses == {holder.pk: E.CANCELLED, first_waiting.pk: E.ENROLLED, later_waiting.pk: E.WAITLISTED}
    note = Notification.objects.get(dedup_key=f"waitlist-promoted:{first_waiting.pk}")
    assert note.recipient == people["volunteer_user"] and note.kind == "training.waitlist_promoted"


def test_cancelling_a_waiting_list_entry_promotes_nobody(regions, people, volunteers):
    session = make_session(regions["zhangpu"], capacity=1)
    services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["second"])
    waiting = services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["own"])
    third = services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["third"])
    assert services.enrollment_cancel(actor=people["coordinator"], enrollment=waiting) is None
    third.refresh_from_db()
    assert third.status == E.WAITLISTED
    with pytest.raises(ValidationError):
        services.enrollment_cancel(actor=people["coordinator"], enrollment=waiting)


def test_cancelled_volunteer_can_enrol_again_at_the_back(regions, people, volunteers):
    session = make_session(regions["zhangpu"], capacity=1)
    first = services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["own"])
    services.enrollment_cancel(actor=people["coordinator"], enrollment=first)
    services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["second"])
    again = services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["own"])
    assert again.pk == first.pk and again.status == E.WAITLISTED


# --- attendance, QR check-in and qualifications -------------------------------------------------

def test_attendance_and_completion_grant_the_qualification(regions, people, volunteers):
    course = TrainingCourse.objects.create(title="危机干预", region=regions["zhangpu"],
                                           qualification_name="危机干预志愿者", validity_months=24)
    session = make_session(regions["zhangpu"], course=course, capacity=3)
    coordinator = people["coordinator"]
    came = services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["own"])
    absent = services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["second"])
    begin(session)
    services.attendance_mark(actor=coordinator, session=session, volunteer=volunteers["own"], attended=True)

    granted = services.session_complete(actor=coordinator, session=session)

    assert [q.volunteer_id for q in granted] == [volunteers["own"].pk]
    qualification = Qualification.objects.get(volunteer=volunteers["own"])
    end_day = timezone.localdate(session.ends_at)
    assert qualification.granted_on == end_day
    assert qualification.expires_on == end_day.replace(year=end_day.year + 2)
    absent.refresh_from_db()
    came.refresh_from_db()
    assert (came.status, absent.status) == (E.ATTENDED, E.NO_SHOW)
    # A late correction grants too, once.
    services.attendance_mark(actor=coordinator, enrollment=absent, attended=True)
    services.attendance_mark(actor=coordinator, enrollment=absent, attended=True)
    assert Qualification.objects.filter(volunteer=volunteers["second"], session=session).count() == 1
    with pytest.raises(ValidationError):
        services.session_complete(actor=coordinator, session=session)


def test_a_course_without_qualification_grants_nothing(regions, people, volunteers):
    session = make_session(regions["zhangpu"], capacity=3)
    services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["own"])
    begin(session)
    services.attendance_mark(actor=people["coordinator"], session=session, volunteer=volunteers["own"])
    assert services.session_complete(actor=people["coordinator"], session=session) == []
    assert not Qualification.objects.exists()


def test_waitlisted_volunteer_cannot_be_marked_present(regions, people, volunteers):
    session = make_session(regions["zhangpu"], capacity=1)
    services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["second"])
    waiting = services.enrollment_create(actor=people["coordinator"], session=session, volunteer=volunteers["own"])
    begin(session)
    with pytest.raises(ValidationError) as refused:
        services.attendance_mark(actor=people["coordinator"], enrollment=waiting)
    assert "volunteer" in refused.value.message_dict


def test_no_attendance_before_the_session_starts(regions, people, volunteers):
    session = make_session(regions["zhangpu"], start_in=datetime.timedelta(minutes=30), capacity=2)
    coordinator = people["coordinator"]
    enrollment = services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["own"])
    for attended in (True, False):
        with pytest.raises(ValidationError) as refused:
            services.attendance_mark(actor=coordinator, enrollment=enrollment, attended=attended)
        assert list(refused.value.message_dict) == ["session"]
    with pytest.raises(ValidationError) as refused:
        services.session_complete(actor=coordinator, session=session)
    assert list(refused.value.message_dict) == ["status"]
    with pytest.raises(ValidationError):  # the volunteer's own scan, half an hour early
        services.session_checkin_by_token(actor=people["volunteer_user"], token=session.qr_token,
                                          volunteer=volunteers["own"])
    enrollment.refresh_from_db()
    session.refresh_from_db()
    assert (enrollment.status, enrollment.attended_at, session.status) == (E.ENROLLED, None, "scheduled")
    begin(session, ago=datetime.timedelta(seconds=1))
    assert services.attendance_mark(actor=coordinator, enrollment=enrollment).status == E.ATTENDED


def test_qr_checkin_marks_attendance_during_the_session_only(regions, people, volunteers):
    session = make_session(regions["zhangpu"], capacity=2)
    later = make_session(regions["zhangpu"], start_in=datetime.timedelta(days=5), capacity=2)
    me, volunteer = people["volunteer_user"], volunteers["own"]
    services.enrollment_create(actor=me, session=session, volunteer=volunteer)
    services.enrollment_create(actor=me, session=later, volunteer=volunteer)
    # Move the first session to now, as if the day had come.
    TrainingSession.objects.filter(pk=session.pk).update(
        starts_at=timezone.now() - datetime.timedelta(minutes=10), ends_at=timezone.now() + datetime.timedelta(hours=1))

    enrollment = services.session_checkin_by_token(actor=me, token=session.qr_token, volunteer=volunteer)
    assert enrollment.status == E.ATTENDED
    again = services.session_checkin_by_token(actor=me, token=session.qr_token, volunteer=volunteer)
    assert again.pk == enrollment.pk and again.attended_at == enrollment.attended_at
    with pytest.raises(ValidationError):
        services.session_checkin_by_token(actor=me, token=later.qr_token, volunteer=volunteer)
    with pytest.raises(ValidationError):
        services.session_checkin_by_token(actor=me, token="no-such-token", volunteer=volunteer)
    with pytest.raises(ValidationError):  # not enrolled
        services.session_checkin_by_token(actor=people["coordinator"], token=session.qr_token, volunteer=volunteers["second"])


# --- pairings -----------------------------------------------------------------------------------

def test_pairing_once_within_the_volunteer_region(regions, people, volunteers, families):
    coordinator = people["coordinator"]
    pairing = services.pairing_create(actor=coordinator, volunteer=volunteers["own"], family=families["own"])
    assert pairing.ended_on is None
    with pytest.raises(ValidationError):
        services.pairing_create(actor=coordinator, volunteer=volunteers["own"], family=families["own"])
    with pytest.raises(OutOfReachError):
        services.pairing_create(actor=coordinator, volunteer=volunteers["own"], family=families["outside"])
    # The volunteer of Suian township cannot take a family of another branch of the tree.
    other_township = make_volunteer(regions["yx_town"], "外镇志愿者")
    with pytest.raises(ValidationError):
        services.pairing_create(actor=people["city_admin"], volunteer=other_township, family=families["own"])

    services.pairing_end(actor=coordinator, pairing=pairing, reason="志愿者搬家")
    with pytest.raises(ValidationError):
        services.pairing_end(actor=coordinator, pairing=pairing)
    # After the end a new pairing may start; the history stays.
    services.pairing_create(actor=coordinator, volunteer=volunteers["own"], family=families["own"])
    assert Pairing.objects.filter(volunteer=volunteers["own"], family=families["own"]).count() == 2


def test_pairing_needs_an_open_case(regions, people, volunteers, families):
    Family.objects.filter(pk=families["own"].pk).update(status=Family.Status.CLOSED)
    families["own"].refresh_from_db()
    with pytest.raises(ValidationError):
        services.pairing_create(actor=people["coordinator"], volunteer=volunteers["own"], family=families["own"])


# --- service hours ------------------------------------------------------------------------------

def test_hours_are_logged_and_reviewed_by_a_coordinator_not_by_oneself(regions, people, volunteers, families):
    me = people["volunteer_user"]
    services.pairing_create(actor=people["coordinator"], volunteer=volunteers["own"], family=families["own"])
    entry = services.service_hours_log(actor=me, volunteer=volunteers["own"], date=timezone.localdate(),
                                       hours=Decimal("2.5"), description="陪同就医", family=families["own"])
    assert entry.status == ServiceHours.Status.PENDING
    with pytest.raises(PermissionDenied):
        services.service_hours_review(actor=me, hours=entry, approve=True)
    with pytest.raises(PermissionDenied):
        services.service_hours_review(actor=people["alice"], hours=entry, approve=True)
    with pytest.raises(OutOfReachError):
        services.service_hours_review(actor=people["other_manager"], hours=entry, approve=True)

    services.service_hours_review(actor=people["coordinator"], hours=entry, approve=True)
    entry.refresh_from_db()
    assert entry.status == ServiceHours.Status.APPROVED and entry.reviewed_by == people["coordinator"]
    with pytest.raises(ValidationError):
        services.service_hours_review(actor=people["manager"], hours=entry, approve=False)


def test_a_coordinator_who_volunteers_cannot_approve_own_hours(regions, people):
    coordinator = people["coordinator"]
    own = make_volunteer(regions["zhangpu"], "协调员本人", user=coordinator)
    entry = services.service_hours_log(actor=coordinator, volunteer=own, date=timezone.localdate(), hours=3, description="活动")
    with pytest.raises(ValidationError):
        services.service_hours_review(actor=coordinator, hours=entry, approve=True)
    services.service_hours_review(actor=people["manager"], hours=entry, approve=False)
    entry.refresh_from_db()
    assert entry.status == ServiceHours.Status.REJECTED


def test_hours_are_validated(regions, people, volunteers, families):
    me, volunteer = people["volunteer_user"], volunteers["own"]
    today = timezone.localdate()
    with pytest.raises(ValidationError):  # not paired
        services.service_hours_log(actor=me, volunteer=volunteer, date=today, hours=1, description="x", family=families["own"])
    with pytest.raises(ValidationError):
        tomorrow = today + datetime.timedelta(days=1)
        services.service_hours_log(actor=me, volunteer=volunteer, date=tomorrow, hours=1, description="x")
    for hours in (0, 25, -1):
        with pytest.raises(ValidationError):
            services.service_hours_log(actor=me, volunteer=volunteer, date=today, hours=hours, description="x")
    with pytest.raises(OutOfReachError):
        services.service_hours_log(actor=me, volunteer=volunteers["second"], date=today, hours=1, description="x")
    assert not ServiceHours.objects.exists()


# --- concurrency on PostgreSQL ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_enrolments_for_the_last_place_give_one_place_and_one_waitlist(regions, people, volunteers, attempt):
    session = make_session(regions["zhangpu"], capacity=1)
    coordinator = people["coordinator"]
    results = race(
        lambda: services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["own"]),
        lambda: services.enrollment_create(actor=coordinator, session=session, volunteer=volunteers["second"]),
    )
    assert sorted(r.status for r in results) == [E.ENROLLED, E.WAITLISTED]
    assert Enrollment.objects.filter(session=session, status=E.ENROLLED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_of_overlapping_sessions_keep_one(regions, people, volunteers):
    first = make_session(regions["zhangpu"], capacity=5)
    second = make_session(regions["zhangpu"], capacity=5)
    coordinator, volunteer = people["coordinator"], volunteers["own"]
    results = race(
        lambda: services.enrollment_create(actor=coordinator, session=first, volunteer=volunteer),
        lambda: services.enrollment_create(actor=coordinator, session=second, volunteer=volunteer),
    )
    assert sum(isinstance(r, Enrollment) for r in results) == 1
    assert sum(isinstance(r, ValidationError) for r in results) == 1
    assert Enrollment.objects.filter(volunteer=volunteer).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_reviews_decide_once(regions, people, volunteers):
    entry = services.service_hours_log(actor=None, volunteer=volunteers["second"], date=timezone.localdate(),
                                       hours=2, description="入户关怀")
    results = race(
        lambda: services.service_hours_review(actor=people["coordinator"], hours=entry, approve=True),
        lambda: services.service_hours_review(actor=people["manager"], hours=entry, approve=False),
    )
    assert sum(isinstance(r, ServiceHours) for r in results) == 1
    assert sum(isinstance(r, ValidationError) for r in results) == 1
    assert AuditEvent.objects.filter(event__startswith="volunteers.hours.", object_ids=[entry.pk]).exclude(
        event="volunteers.hours.logged").count() == 1
