"""The end of a family's retention (``FAMILY_RETENTION_YEARS``): which families are due, and what
anonymising one clears in the families' own records (``casemgmt.security.services.family_anonymise``
runs it, with the other apps' parts, once and audited)."""
import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from casemgmt.security.services import family_anonymise

from .models import Assessment, AssistanceEnrollment, CheckIn, Family, FamilyMember


def family_personal_data_erase(family):
    """Names become masked placeholders; ID numbers, phones, health details, bank accounts, free
    text and the blind indexes are cleared; a birth date keeps only its year (ages still group).
    Returns the number of members."""
    members = list(FamilyMember.objects.select_for_update().filter(family=family))
    for member in members:
        placeholder = _("Anonymised %(n)s") % {"n": member.pk}
        birth = member.birth_date and datetime.date(member.birth_date.year, 7, 1)
        FamilyMember.objects.filter(pk=member.pk).update(
            name=placeholder[:50], name_pinyin="", name_initials="", id_number="", id_number_index="",
            phone="", phone_index="", health_conditions="", disability_certificate_number="",
            family_doctor="", family_doctor_institution="", birth_date=birth, lunar_birth_month=None,
            lunar_birth_day=None, updated_at=timezone.now(),
        )
    AssistanceEnrollment.objects.filter(family=family).update(bank_account="", bank_name="")
    CheckIn.objects.filter(family=family).update(mental_notes="", difficulties="", needs="", help_given="",
                                                 follow_up="")
    Assessment.objects.filter(family=family).update(notes="")
    Family.objects.filter(pk=family.pk).update(address="", notes="", status_reason="", risk_reason="")
    return len(members)


def families_anonymise_expired(*, actor=None, now=None, dry_run=False):
    """Anonymise every family closed (or deceased, or moved away) longer ago than the retention
    period ``FAMILY_RETENTION_YEARS``; returns the families concerned."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=365 * settings.FAMILY_RETENTION_YEARS)
    due = list(Family.objects.filter(status__in=(Family.Status.CLOSED, Family.Status.DECEASED, Family.Status.MOVED),
                                     status_changed_at__lt=cutoff, anonymisation__isnull=True).order_by("id"))
    if not dry_run:
        for family in due:
            family_anonymise(actor=actor, family=family,
                             reason=_("retention of %(years)s years ended") % {"years": settings.FAMILY_RETENTION_YEARS})
    return due
