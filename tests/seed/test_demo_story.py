"""The demo tells the product's story in every role: after ``seed_demo`` and ``demo_users``, each
demo login finds its part of the day through the selectors its pages use (not merely rows in the
database), the morning's reminders are already waiting, and running either command again adds
nothing — nor does the morning's beat."""
import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from casemgmt.core import jobs
from casemgmt.core.models import AuditEvent, JobRun, Notification, User
from casemgmt.core.reach import restrict
from casemgmt.security.models import BreakGlassGrant
from demo.generator import seed_demo
from demo.story import DAILY_JOBS
from families import reminders
from families.models import Family
from services import selectors as service_selectors
from services.models import Activity, InsurancePolicy
from volunteers import selectors as volunteer_selectors
from volunteers.models import Enrollment, Qualification, TrainingSession, Volunteer
from workspace import selectors as workspace_selectors

# seed_demo loads in bulk with the tallies' triggers off: the owner's work (docs/deploy.md).
pytestmark = [pytest.mark.django_db, pytest.mark.db_owner]

LOGINS = ("demo-admin", "demo-manager", "demo-socialworker", "demo-contact", "demo-coordinator", "demo-volunteer",
          "demo-auditor")


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"  # the demo password is kept there, not in the developer's var/
    settings.DEBUG = True


@pytest.fixture
def demo(db):
    seed_demo(seed=1, families=60)  # today's date: the day the logins are tried on
    call_command("demo_users")
    return {u.username: u for u in User.objects.filter(username__in=LOGINS)}


def _unread(user):
    notes, count = workspace_selectors.unread_notifications(user=user, limit=100)
    return {n.notification.kind for n in notes}, count


def _state():
    """What a second run must not add to."""
    return {
        "families": Family.objects.count(), "notifications": Notification.objects.count(),
        "grants": BreakGlassGrant.objects.count(), "sessions": TrainingSession.objects.count(),
        "enrolments": Enrollment.objects.count(), "activities": Activity.objects.count(),
        "policies": InsurancePolicy.objects.count(), "jobs": JobRun.objects.count(),
        "qualifications": Qualification.objects.count(),
        "reveals": AuditEvent.objects.filter(event="families.familymember.revealed").count(),
    }


def test_every_login_finds_its_part_of_the_day(demo):
    today, now = timezone.localdate(), timezone.now()

    # Social worker and contact person: Today has families overdue, due today and coming up, and the
    # reminders about them are waiting.
    for name in ("demo-socialworker", "demo-contact"):
        day = workspace_selectors.today_worklist(user=demo[name])
        assert day["overdue"] and day["due_today"] and day["coming_up"], name
        kinds, unread = _unread(demo[name])
        assert {"checkin.overdue", "checkin.due"} <= kinds, (name, kinds)

    # Coordinator: trainings past and future in their county, one with a waiting list; a "5+N"
    # activity planned at a site; a policy to renew, and its reminder.
    coordinator = demo["demo-coordinator"]
    sessions = volunteer_selectors.session_list(user=coordinator)
    assert sessions.filter(starts_at__lt=now).exists() and sessions.filter(starts_at__gt=now).exists()
    enrolments = volunteer_selectors.enrollment_list(user=coordinator).filter(session__starts_at__gt=now)
    assert enrolments.filter(status="enrolled").exists() and enrolments.filter(status="waitlisted").exists()
    tomorrows = enrolments.filter(session__starts_at__date=timezone.localdate() + datetime.timedelta(days=1))
    assert tomorrows.filter(status="waitlisted").exists()
    assert volunteer_selectors.enrollment_list(user=coordinator).filter(
        session__starts_at__lt=now, status="attended").exists()
    planned = service_selectors.activity_list(user=coordinator).filter(starts_at__gt=now, site__isnull=False,
                                                                       organiser=coordinator)
    assert planned.exists()
    assert "training.qualification_expiring" in _unread(coordinator)[0]

    # Volunteer: tomorrow's training booked and reminded, a pairing, the next sessions to book.
    volunteer_user = demo["demo-volunteer"]
    volunteer = Volunteer.objects.get(user=volunteer_user)
    assert volunteer.name in volunteer_user.display_name  # the header and /me/ name one person
    home = workspace_selectors.volunteer_home(user=volunteer_user, volunteer=volunteer)
    tomorrow = today + datetime.timedelta(days=1)
    assert any(timezone.localdate(e.session.starts_at) == tomorrow and e.status == "enrolled"
               for e in home["enrollments"])
    assert home["pairings"]
    assert {"training.session_tomorrow", "training.qualification_expiring"} <= _unread(volunteer_user)[0]

    # Region manager: a policy to renew, told of it, of the break-the-glass grant and of the
    # families long overdue.
    manager = demo["demo-manager"]
    assert service_selectors.policy_list(user=manager).filter(
        status="active", ends_on__gte=today, ends_on__lte=today + datetime.timedelta(days=60)).exists()
    kinds, _count = _unread(manager)
    assert {"insurance.renewal_due", "security.break_glass", "checkin.escalated.manager"} <= kinds, kinds

    # Administrator: reminders of the city's insurance cover.
    assert _unread(demo["demo-admin"])[1] > 0

    # Auditor: the grant and the tap-to-call reveal in the trail of their region.
    auditor = demo["demo-auditor"]
    trail = workspace_selectors.audit_trail(user=auditor)
    assert trail.filter(event="security.break_glass.opened").exists()
    reveal = trail.get(event="families.familymember.revealed")
    assert reveal.actor == demo["demo-socialworker"] and reveal.reason
    assert workspace_selectors.audit_fields(reveal) == ["phone"]
    assert restrict(BreakGlassGrant.objects.all(), auditor).filter(user=demo["demo-socialworker"]).exists()


def test_a_second_run_and_the_morning_beat_add_nothing(demo):
    before = _state()
    call_command("seed_demo", families=60, if_empty=True)
    call_command("demo_users")
    assert _state() == before

    # The beat's morning run of today's sweeps finds the day done in the ledger…
    today = timezone.localdate()
    for name in DAILY_JOBS:
        assert not jobs.jobs_start(name, today.isoformat())
    # …and a sweep run again by hand sends nothing twice: the reminders' own keys.
    assert reminders.checkin_sweep(today=today) == 0
    assert reminders.sensitive_dates_sweep(today=today) == 0
    assert _state() == before
