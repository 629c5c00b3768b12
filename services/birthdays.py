"""Group birthday celebrations (集体庆生): who has a birthday next month near a Warm Heart Home, and
turning that list into a planned activity in one step."""
import calendar as month_calendar
import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from casemgmt.core import privacy
from casemgmt.core.audit import audit_log
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import Notification
from casemgmt.core.notifications import notify_many
from casemgmt.core.reach import region_within_reach
from families import calendar
from families.models import Family, FamilyMember

from .models import Activity, ServiceSite


def _month_days(year, month):
    return [datetime.date(year, month, d) for d in range(1, month_calendar.monthrange(year, month)[1] + 1)]


def birthday_members(*, site, year, month):
    """[(member, birthday date)] of living members of open families in the site's region whose
    birthday (solar or lunar, as recorded) falls in ``month`` of ``year``, by date."""
    solar, lunar = {}, {}
    for day in _month_days(year, month):
        for key in calendar.solar_birthday_keys(day):
            solar.setdefault(key, day)
        for key in calendar.lunar_birthday_keys(day):
            lunar.setdefault(key, day)
    condition = Q(birthday_calendar="solar", birth_date__month=month)
    for m, d in lunar:
        condition |= Q(birthday_calendar="lunar", lunar_birth_month=m, lunar_birth_day=d)
    members = FamilyMember.objects.filter(
        condition, is_deceased=False, family__status__in=(Family.Status.REGISTERED, Family.Status.ACTIVE),
        family__region_path__startswith=site.region.path,
    ).select_related("family")
    found = []
    for member in members:
        if member.birthday_calendar == "lunar":
            day = lunar.get((member.lunar_birth_month, member.lunar_birth_day))
        else:
            day = solar.get((member.birth_date.month, member.birth_date.day))
        if day:
            found.append((member, day))
    return sorted(found, key=lambda pair: (pair[1], pair[0].name))


def _next_month(today):
    return (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)


def birthday_celebration_create(*, actor, site, month, year=None):
    """Plan next ``month``'s group birthday celebration at ``site`` with everyone on the list."""
    if actor is not None and not region_within_reach(actor, site.region.path):
        raise OutOfReachError()
    today = timezone.localdate()
    year = year or (today.year if month >= today.month else today.year + 1)
    members = birthday_members(site=site, year=year, month=month)
    if not members:
        raise ValidationError({"month": _("Nobody near this site has a birthday in that month.")})
    # The middle of the month by default; the coordinator moves it when the date is agreed.
    starts_at = timezone.make_aware(datetime.datetime(year, month, 15, 9, 30))
    month_start = timezone.make_aware(datetime.datetime(year, month, 1))
    month_end = timezone.make_aware(datetime.datetime(*_next_month(datetime.date(year, month, 1)), 1))
    with transaction.atomic():
        # One celebration per site and month: two coordinators pressing the button at once queue on the site row.
        ServiceSite.objects.select_for_update().filter(pk=site.pk).first()
        planned = Activity.objects.filter(
            site=site, category=Activity.Category.BIRTHDAY, starts_at__gte=month_start, starts_at__lt=month_end,
        ).exclude(status=Activity.Status.CANCELLED).first()
        if planned:
            raise ValidationError({"month": _("%(title)s is already planned for this site and month.")
                                   % {"title": planned.title}})
        activity = Activity.objects.create(
            title=_("Group birthday celebration %(year)s-%(month)02d, %(site)s") % {"year": year, "month": month,
                                                                                    "site": site.name},
            category=Activity.Category.BIRTHDAY, site=site, region=site.region, starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=2), organiser=actor, status=Activity.Status.PLANNED,
            description="\n".join(f"{day:%m-%d} {member.name} ({member.family.file_number})" for member, day in members),
        )
        audit_log(actor=actor, event="services.activity.birthday_planned", obj=activity, region_path=site.region.path,
                  after={"site": site.pk, "year": year, "month": month, "members": [m.pk for m, _d in members]})
    return activity


def birthday_lists_send(*, today=None, now=None):
    """On the first of the month: each Warm Heart Home's coordinator gets next month's birthday list."""
    today = today or timezone.localdate()
    year, month = _next_month(today)
    sites = ServiceSite.objects.filter(
        kind=ServiceSite.Kind.WARM_HEART_HOME, coordinator__isnull=False, coordinator__is_active=True,
    ).filter(Q(closed_on__isnull=True) | Q(closed_on__gt=today)).select_related("region", "coordinator")
    items = []
    for site in sites:
        members = birthday_members(site=site, year=year, month=month)
        coordinator = site.coordinator
        with translation.override(coordinator.language):
            title = ngettext("%(count)s birthday next month near %(site)s", "%(count)s birthdays next month near %(site)s",
                             len(members)) % {"count": len(members), "site": site.name}
        items.append(Notification(
            recipient=coordinator, kind="birthdays.monthly_list", level=Notification.Level.INFO, title=title[:200],
            # Mailed and texted: names as they may leave the system (the list page has them in full).
            body="\n".join(f"{day:%m-%d} {privacy.outbound(FamilyMember, 'name', member.name, coordinator)} "
                           f"({member.family.file_number})" for member, day in members),
            dedup_key=f"birthdays:{site.pk}:{year}-{month:02d}", link=f"/admin/services/servicesite/{site.pk}/change/",
        ))
    return notify_many(items, now=now)
