"""Writes about volunteers: training places, attendance and qualifications, pairings, service hours.

Every rule is here once; the admin, the API and tasks call these. Capacity is counted while the
training session's row is locked, so two people asking for the last place get one place and one
waiting-list entry, never two places.
"""

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from casemgmt.core.audit import audit_log
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import Role
from casemgmt.core.notifications import notify
from casemgmt.core.reach import region_within_reach

from .models import Enrollment, Pairing, Qualification, ServiceHours, TrainingSession, Volunteer

# Statuses that hold a place in a session (and count against its capacity).
PLACE_STATUSES = (Enrollment.Status.ENROLLED, Enrollment.Status.ATTENDED)
# Statuses that book the volunteer's time: a waiting-list entry may turn into a place at any moment.
BOOKED_STATUSES = (Enrollment.Status.ENROLLED, Enrollment.Status.WAITLISTED, Enrollment.Status.ATTENDED)
# Who reviews volunteers' hours: the coordinator, or the managers above them.
REVIEWER_ROLES = frozenset({Role.VOLUNTEER_COORDINATOR, Role.REGION_MANAGER, Role.ADMIN})


def attendance_open(session, now=None):
    """Whether attendance may be taken: from the session's start on. Ticked ahead of time it would be
    a guess, and the figures would count training that has not happened."""
    return (now or timezone.now()) >= session.starts_at


def _check_reach(actor, path):
    """``actor`` None is the system itself (a task or a command), which reaches everything."""
    if actor is not None and not region_within_reach(actor, path):
        raise OutOfReachError()


def _check_self_service(actor, volunteer):
    """A volunteer acts only for themself; staff act for the volunteers in their reach."""
    if actor is None:
        return
    if actor.role == Role.VOLUNTEER and not actor.is_superuser:
        if volunteer.user_id != actor.pk:
            raise OutOfReachError()
    else:
        _check_reach(actor, volunteer.region.path)


# --- training ---------------------------------------------------------------------------------

def _lock_session(session):
    return TrainingSession.objects.select_for_update(of=("self",)).select_related("course", "region").get(pk=session.pk)


def _overlapping_booking(volunteer, session):
    return (
        Enrollment.objects.filter(volunteer=volunteer, status__in=BOOKED_STATUSES)
        .exclude(session=session)
        .exclude(session__status=TrainingSession.Status.CANCELLED)
        .filter(session__starts_at__lt=session.ends_at, session__ends_at__gt=session.starts_at)
        .select_related("session__course")
        .first()
    )


def enrollment_create(*, actor, session, volunteer):
    """Give ``volunteer`` a place in ``session`` if one is free, otherwise a waiting-list entry."""
    _check_reach(actor, session.region.path)
    _check_self_service(actor, volunteer)
    if volunteer.status != Volunteer.Status.ACTIVE:
        raise ValidationError({"volunteer": _("Only an active volunteer can enrol.")})
    with transaction.atomic():
        # Lock order everywhere: session, then volunteer. The session lock serialises the
        # capacity count; the volunteer lock serialises double-booking checks across sessions.
        locked = _lock_session(session)
        Volunteer.objects.select_for_update().filter(pk=volunteer.pk).first()
        if locked.status != TrainingSession.Status.SCHEDULED or locked.starts_at <= timezone.now():
            raise ValidationError({"session": _("This session is no longer open for enrolment.")})
        existing = Enrollment.objects.filter(session=locked, volunteer=volunteer).first()
        if existing and existing.status != Enrollment.Status.CANCELLED:
            raise ValidationError({"volunteer": _("This volunteer is already enrolled in this session.")})
        clash = _overlapping_booking(volunteer, locked)
        if clash:
            raise ValidationError({"session": _("The volunteer is already booked for “%(other)s” at the same time.") % {
                "other": clash.session}})
        taken = Enrollment.objects.filter(session=locked, status__in=PLACE_STATUSES).count()
        status = Enrollment.Status.ENROLLED if taken < locked.capacity else Enrollment.Status.WAITLISTED
        now = timezone.now()
        if existing:  # one row per (session, volunteer): a cancelled enrolment is taken up again
            existing.status, existing.enrolled_at, existing.attended_at = status, now, None
            existing.save(update_fields=["status", "enrolled_at", "attended_at"])
            enrollment = existing
        else:
            enrollment = Enrollment.objects.create(session=locked, volunteer=volunteer, status=status, enrolled_at=now)
        audit_log(actor=actor, event=f"volunteers.enrollment.{status}", obj=enrollment, region_path=locked.region.path,
                  after={"session": locked.pk, "volunteer": volunteer.pk, "status": status})
    return enrollment


def _promote_first_waitlisted(actor, session):
    promoted = (
        Enrollment.objects.select_for_update(of=("self",))
        .filter(session=session, status=Enrollment.Status.WAITLISTED)
        .select_related("volunteer__user")
        .order_by("enrolled_at", "id")
        .first()
    )
    if promoted is None:
        return None
    promoted.status = Enrollment.Status.ENROLLED
    promoted.save(update_fields=["status"])
    audit_log(actor=actor, event="volunteers.enrollment.promoted", obj=promoted, region_path=session.region.path,
              before={"status": Enrollment.Status.WAITLISTED}, after={"status": Enrollment.Status.ENROLLED})
    if promoted.volunteer.user_id:
        # Stored text, so written in the recipient's language rather than the actor's.
        with translation.override(promoted.volunteer.user.language):
            notify(
                recipient=promoted.volunteer.user, kind="training.waitlist_promoted",
                title=_("You have a place in the training “%(session)s”") % {"session": session},
                body=_("A place became free and you were moved up from the waiting list."),
                dedup_key=f"waitlist-promoted:{promoted.pk}",
            )
    return promoted


def enrollment_cancel(*, actor, enrollment):
    """Cancel an enrolment; a freed place goes to the first on the waiting list. Returns the promoted one."""
    _check_self_service(actor, enrollment.volunteer)
    with transaction.atomic():
        session = _lock_session(enrollment.session)
        current = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if current.status not in (Enrollment.Status.ENROLLED, Enrollment.Status.WAITLISTED):
            raise ValidationError({"status": _("Only an enrolment or a waiting-list entry can be cancelled.")})
        previous = current.status
        current.status = Enrollment.Status.CANCELLED
        current.save(update_fields=["status"])
        audit_log(actor=actor, event="volunteers.enrollment.cancelled", obj=current, region_path=session.region.path,
                  before={"status": previous}, after={"status": current.status})
        promoted = None
        if previous == Enrollment.Status.ENROLLED and session.status == TrainingSession.Status.SCHEDULED:
            promoted = _promote_first_waitlisted(actor, session)
    enrollment.status = current.status
    return promoted


def _grant_qualification(session, enrollment):
    """The qualification a completed session grants, once per volunteer and session."""
    course = session.course
    if not course.qualification_name:
        return None
    if Qualification.objects.filter(volunteer_id=enrollment.volunteer_id, session=session).exists():
        return None
    granted_on = timezone.localdate(session.ends_at)
    expires_on = granted_on + relativedelta(months=course.validity_months) if course.validity_months else None
    return Qualification.objects.create(
        volunteer_id=enrollment.volunteer_id, name=course.qualification_name, course=course, session=session,
        granted_on=granted_on, expires_on=expires_on,
    )


def attendance_mark(*, actor, enrollment=None, session=None, volunteer=None, attended=True):
    """Record whether an enrolled volunteer came. On a completed session a late "attended" also grants."""
    if enrollment is None:
        if session is None or volunteer is None:
            raise ValidationError({"enrollment": _("Name the enrolment, or the session and the volunteer.")})
        enrollment = Enrollment.objects.filter(session=session, volunteer=volunteer).select_related("session__region").first()
        if enrollment is None:
            raise ValidationError({"volunteer": _("This volunteer is not enrolled in this session.")})
    _check_reach(actor, enrollment.session.region.path)
    with transaction.atomic():
        locked = _lock_session(enrollment.session)
        current = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.status == TrainingSession.Status.CANCELLED:
            raise ValidationError({"session": _("This session was cancelled.")})
        if not attendance_open(locked):
            raise ValidationError({"session": _("Attendance can be taken once the session has started (%(start)s).") % {
                "start": timezone.localtime(locked.starts_at).strftime("%Y-%m-%d %H:%M")}})
        if current.status not in (Enrollment.Status.ENROLLED, Enrollment.Status.ATTENDED, Enrollment.Status.NO_SHOW):
            raise ValidationError({"volunteer": _("Only a volunteer with a place can be marked present or absent.")})
        previous = current.status
        if attended:
            current.status = Enrollment.Status.ATTENDED
            current.attended_at = current.attended_at or timezone.now()
        else:
            current.status, current.attended_at = Enrollment.Status.NO_SHOW, None
        current.save(update_fields=["status", "attended_at"])
        if attended and locked.status == TrainingSession.Status.COMPLETED:
            _grant_qualification(locked, current)
        audit_log(actor=actor, event="volunteers.enrollment.attendance_marked", obj=current, region_path=locked.region.path,
                  before={"status": previous}, after={"status": current.status})
    return current


def session_checkin_by_token(*, actor, token, volunteer):
    """Check a volunteer in by the session's QR code; scanning twice is harmless."""
    session = TrainingSession.objects.select_related("region").filter(qr_token=token).first()
    if session is None:
        raise ValidationError({"token": _("This QR code does not belong to any training session.")})
    _check_self_service(actor, volunteer)
    _check_reach(actor, session.region.path)
    now = timezone.now()
    if session.status != TrainingSession.Status.SCHEDULED or not attendance_open(session, now) or now > session.ends_at:
        raise ValidationError({"token": _("Check-in for this session is not open now.")})
    enrollment = Enrollment.objects.filter(session=session, volunteer=volunteer).select_related("session__region").first()
    if enrollment is None or enrollment.status not in PLACE_STATUSES:
        raise ValidationError({"volunteer": _("This volunteer has no place in this session.")})
    if enrollment.status == Enrollment.Status.ATTENDED:
        return enrollment
    return attendance_mark(actor=actor, enrollment=enrollment, attended=True)


def session_complete(*, actor, session):
    """Close a session: who was not marked present is a no-show; attendees get the course's qualification."""
    _check_reach(actor, session.region.path)
    with transaction.atomic():
        locked = _lock_session(session)
        if locked.status != TrainingSession.Status.SCHEDULED:
            raise ValidationError({"status": _("Only a scheduled session can be completed.")})
        if not attendance_open(locked):
            # Completing marks everyone not present a no-show: attendance too, so not before the start.
            raise ValidationError({"status": _("A session can be completed once it has started.")})
        TrainingSession.objects.filter(pk=locked.pk).update(status=TrainingSession.Status.COMPLETED, updated_at=timezone.now())
        locked.status = TrainingSession.Status.COMPLETED
        no_shows = Enrollment.objects.filter(session=locked, status=Enrollment.Status.ENROLLED).update(
            status=Enrollment.Status.NO_SHOW)
        granted = [
            q for q in (_grant_qualification(locked, e) for e in Enrollment.objects.filter(
                session=locked, status=Enrollment.Status.ATTENDED)) if q
        ]
        audit_log(actor=actor, event="volunteers.session.completed", obj=locked, region_path=locked.region.path,
                  after={"no_shows": no_shows, "qualifications": [q.pk for q in granted]})
    session.status = locked.status
    return granted


# --- pairings ---------------------------------------------------------------------------------

def pairing_create(*, actor, volunteer, family, started_on=None):
    """Pair a volunteer with a family of the volunteer's own region (结对帮扶)."""
    from families.models import Family

    _check_reach(actor, family.region_path)
    _check_reach(actor, volunteer.region.path)
    if volunteer.status != Volunteer.Status.ACTIVE:
        raise ValidationError({"volunteer": _("Only an active volunteer can be paired.")})
    if not family.region_path.startswith(volunteer.region.path):
        raise ValidationError({"family": _("The family lives outside the volunteer's region.")})
    if family.status not in (Family.Status.REGISTERED, Family.Status.ACTIVE):
        raise ValidationError({"family": _("The family's case is not open.")})
    pairing = Pairing(volunteer=volunteer, family=family, started_on=started_on or timezone.localdate())
    try:
        # The partial unique constraint decides, so two coordinators pairing at once store one.
        with transaction.atomic():
            pairing.save()
            audit_log(actor=actor, event="volunteers.pairing.created", obj=pairing, family_id=family.pk,
                      region_path=family.region_path, after={"volunteer": volunteer.pk, "family": family.pk})
    except IntegrityError:
        raise ValidationError({"family": _("This volunteer is already paired with this family.")}) from None
    return pairing


def pairing_end(*, actor, pairing, ended_on=None, reason=""):
    _check_reach(actor, pairing.family.region_path)
    ended_on = ended_on or timezone.localdate()
    if ended_on < pairing.started_on:
        raise ValidationError({"ended_on": _("A pairing cannot end before it started.")})
    with transaction.atomic():
        updated = Pairing.objects.filter(pk=pairing.pk, ended_on__isnull=True).update(ended_on=ended_on, end_reason=reason)
        if updated != 1:
            raise ValidationError({"ended_on": _("This pairing has already ended.")})
        pairing.ended_on, pairing.end_reason = ended_on, reason
        audit_log(actor=actor, event="volunteers.pairing.ended", obj=pairing, family_id=pairing.family_id,
                  region_path=pairing.family.region_path, after={"ended_on": ended_on, "reason": reason})
    return pairing


# --- service hours ----------------------------------------------------------------------------

def _same_branch(a, b):
    return a.startswith(b) or b.startswith(a)


def service_hours_log(*, actor, volunteer, date, hours, description, family=None, activity=None):
    """Log hours for review. Hours with a family need a pairing with it on that day."""
    _check_self_service(actor, volunteer)
    if date > timezone.localdate():
        raise ValidationError({"date": _("Hours cannot be logged for a future day.")})
    if family is not None and not Pairing.objects.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=date), volunteer=volunteer, family=family, started_on__lte=date,
    ).exists():
        raise ValidationError({"family": _("The volunteer was not paired with this family on that day.")})
    if activity is not None and not _same_branch(activity.region.path, volunteer.region.path):
        raise ValidationError({"activity": _("The activity is outside the volunteer's region.")})
    entry = ServiceHours(volunteer=volunteer, date=date, hours=hours, description=description, family=family, activity=activity)
    entry.full_clean(exclude=["status", "reviewed_by", "reviewed_at"])
    if not 0 < entry.hours <= 24:
        raise ValidationError({"hours": _("Hours must be more than 0 and at most 24.")})
    with transaction.atomic():
        entry.save()
        audit_log(actor=actor, event="volunteers.hours.logged", obj=entry, family_id=family.pk if family else None,
                  region_path=volunteer.region.path, after={"date": date, "hours": entry.hours})
    return entry


def service_hours_review(*, actor, hours, approve):
    """Approve or reject pending hours; a reviewer never reviews their own."""
    if actor is None or not (actor.is_superuser or actor.role in REVIEWER_ROLES):
        raise PermissionDenied(_("Only a volunteer coordinator can review service hours."))
    _check_reach(actor, hours.volunteer.region.path)
    if hours.volunteer.user_id == actor.pk:
        raise ValidationError({"status": _("You cannot review your own hours.")})
    status = ServiceHours.Status.APPROVED if approve else ServiceHours.Status.REJECTED
    now = timezone.now()
    with transaction.atomic():
        # Conditional update: of two reviewers at once, exactly one decides.
        updated = ServiceHours.objects.filter(pk=hours.pk, status=ServiceHours.Status.PENDING).update(
            status=status, reviewed_by=actor, reviewed_at=now)
        if updated != 1:
            raise ValidationError({"status": _("These hours have already been reviewed.")})
        hours.status, hours.reviewed_by, hours.reviewed_at = status, actor, now
        audit_log(actor=actor, event=f"volunteers.hours.{status}", obj=hours, region_path=hours.volunteer.region.path,
                  before={"status": ServiceHours.Status.PENDING}, after={"status": status})
    return hours


def training_session_schedule(*, actor, course, region, starts_at, ends_at, venue, capacity, trainer=""):
    """Schedule a training session of ``course`` in ``region``, in the future and within reach."""
    if actor is not None and not region_within_reach(actor, region.path):
        raise OutOfReachError()
    session = TrainingSession(course=course, region=region, starts_at=starts_at, ends_at=ends_at, venue=venue,
                              capacity=capacity, trainer=trainer)
    session.full_clean()
    if starts_at <= timezone.now():
        raise ValidationError({"starts_at": _("A new session must start in the future.")})
    with transaction.atomic():
        session.save()
        audit_log(actor=actor, event="volunteers.session.scheduled", obj=session, region_path=region.path,
                  after={"course": course.pk, "starts_at": starts_at, "capacity": capacity})
    return session
