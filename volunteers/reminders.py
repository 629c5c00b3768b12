"""Training reminders: the day before a session, and qualifications about to expire."""
import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casemgmt.core import privacy
from casemgmt.core.models import Notification, Role
from casemgmt.core.notifications import notify_many
from families.reminders import _staff_by_path, _Text, deepest

from .models import Enrollment, Qualification, TrainingSession, Volunteer

SESSION_TOMORROW = _Text(_("Reminder: training “%(course)s” tomorrow at %(time)s, %(venue)s."))
QUALIFICATION_EXPIRING = _Text(_("The qualification “%(name)s” of %(volunteer)s expires on %(date)s."))
EXPIRY_NOTICE_DAYS = 30


def training_sweep(*, today=None, now=None):
    """Remind enrolled volunteers of tomorrow's sessions; tell volunteers and their region's
    coordinators about qualifications expiring within 30 days. Returns the new notifications."""
    today = today or timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)
    start = timezone.make_aware(datetime.datetime.combine(tomorrow, datetime.time.min))
    items = []
    enrolled = Enrollment.objects.filter(
        status=Enrollment.Status.ENROLLED, session__status=TrainingSession.Status.SCHEDULED,
        session__starts_at__gte=start, session__starts_at__lt=start + datetime.timedelta(days=1),
        volunteer__user__isnull=False, volunteer__user__is_active=True,
    )
    for session_id, user_id, language, course, starts_at, venue in enrolled.values_list(
        "session_id", "volunteer__user_id", "volunteer__user__language", "session__course__title", "session__starts_at",
        "session__venue",
    ):
        items.append(Notification(
            recipient_id=user_id, kind="training.session_tomorrow", level=Notification.Level.REMINDER,
            dedup_key=f"training:session:{session_id}:{user_id}",
            title=SESSION_TOMORROW(language, course=course, time=f"{timezone.localtime(starts_at):%H:%M}", venue=venue)[:200],
        ))
    coordinators = _staff_by_path(Role.VOLUNTEER_COORDINATOR)
    expiring = Qualification.objects.filter(
        expires_on__gte=today, expires_on__lte=today + datetime.timedelta(days=EXPIRY_NOTICE_DAYS),
    )
    for pk, name, expires_on, volunteer, user_id, language, active, path in expiring.values_list(
        "pk", "name", "expires_on", "volunteer__name", "volunteer__user_id", "volunteer__user__language",
        "volunteer__user__is_active", "volunteer__region__path",
    ):
        recipients = list(deepest(coordinators, path))
        if user_id and active:
            recipients.append((user_id, language))
        for recipient_id, recipient_language in recipients:
            items.append(Notification(
                recipient_id=recipient_id, kind="training.qualification_expiring", level=Notification.Level.REMINDER,
                dedup_key=f"qualification:{pk}:{expires_on}:{recipient_id}",
                # Mailed and texted: the volunteer's name as it may leave the system.
                title=QUALIFICATION_EXPIRING(recipient_language, name=name, date=expires_on,
                                             volunteer=privacy.outbound(Volunteer, "name", volunteer))[:200],
            ))
    return notify_many(items, now=now)
