"""Insurance sweeps: renewals coming up, lapsed policies, and eligible members left uncovered.

Each reminder carries a unique key (one per policy and threshold), so running a sweep twice or on
two workers at once tells everyone once.
"""
import datetime
import logging
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from casemgmt.core.models import Notification, Role
from casemgmt.core.notifications import notify_many
from families.models import Family, FamilyMember
from families.reminders import _PluralText, _staff_by_path, _Text, deepest

from .models import InsurancePolicy, InsuredPerson

logger = logging.getLogger(__name__)

RENEWAL_THRESHOLDS = (7, 30, 60)  # days before the end; each is reminded once
ENDING = _Text(_("Insurance policy %(policy)s ends on %(end)s (in %(days)s days); a draft renewal is ready to review."))
LAPSED = _Text(_("Insurance policy %(policy)s ended on %(end)s and has not been renewed."))
UNCOVERED = _PluralText(ngettext_lazy(
    "%(count)s eligible family member in %(region)s is covered by no active insurance policy.",
    "%(count)s eligible family members in %(region)s are covered by no active insurance policy.", "count"))


def _policy_label(insurer, number):
    return f"{insurer} {number}".strip()


def insurance_sweep(*, today=None, now=None):
    """Remind of policies ending within 60/30/7 days and draft their renewal; flag lapsed policies and
    members without cover. Returns the number of new notifications."""
    today = today or timezone.localdate()
    admins = _staff_by_path(Role.ADMIN)
    items = []
    ending = InsurancePolicy.objects.filter(
        status=InsurancePolicy.Status.ACTIVE, ends_on__gte=today,
        ends_on__lte=today + datetime.timedelta(days=max(RENEWAL_THRESHOLDS)),
    ).select_related("region", "responsible")
    for policy in ending:
        days_left = (policy.ends_on - today).days
        threshold = min(t for t in RENEWAL_THRESHOLDS if days_left <= t)
        recipients = ([(policy.responsible_id, policy.responsible.language)]
                      if policy.responsible and policy.responsible.is_active else deepest(admins, policy.region.path))
        for user_id, language in recipients:
            items.append(Notification(
                recipient_id=user_id, kind="insurance.renewal_due", level=Notification.Level.REMINDER,
                dedup_key=f"policy:ending:{policy.pk}:{threshold}:{user_id}",
                title=ENDING(language, policy=_policy_label(policy.insurer, policy.policy_number), end=policy.ends_on,
                             days=days_left),
                link=f"/admin/services/insurancepolicy/{policy.pk}/change/",
            ))
        if not InsurancePolicy.objects.filter(renews=policy).exists():
            _draft_renewal(policy)

    lapsed = InsurancePolicy.objects.filter(status=InsurancePolicy.Status.ACTIVE, ends_on__lt=today, renewal__isnull=True)
    for pk, insurer, number, end, path in lapsed.values_list("pk", "insurer", "policy_number", "ends_on", "region__path"):
        for user_id, language in deepest(admins, path):
            items.append(Notification(
                recipient_id=user_id, kind="insurance.lapsed", level=Notification.Level.WARNING,
                dedup_key=f"policy:lapsed:{pk}:{user_id}", title=LAPSED(language, policy=_policy_label(insurer, number), end=end),
                link=f"/admin/services/insurancepolicy/{pk}/change/",
            ))

    covered = InsuredPerson.objects.filter(
        member=OuterRef("pk"), policy__status=InsurancePolicy.Status.ACTIVE, policy__starts_on__lte=today,
        policy__ends_on__gte=today,
    )
    uncovered = FamilyMember.objects.filter(
        is_deceased=False, family__status__in=(Family.Status.REGISTERED, Family.Status.ACTIVE),
    ).exclude(Exists(covered))
    by_county = defaultdict(int)
    for path in uncovered.values_list("family__region_path", flat=True).iterator(chunk_size=5000):
        by_county[path[:6]] += 1
    for county, count in sorted(by_county.items()):
        for user_id, language in deepest(admins, county):
            items.append(Notification(
                recipient_id=user_id, kind="insurance.uncovered", level=Notification.Level.WARNING,
                dedup_key=f"insurance:uncovered:{county}:{today:%Y-%m}:{user_id}",
                title=UNCOVERED(language, count=count, region=county),
            ))
    return notify_many(items, now=now)


def _draft_renewal(policy):
    # Imported here: the renewal service belongs to the services app's writes and may change.
    from .services import policy_renew

    try:
        return policy_renew(actor=None, policy=policy)
    except ValidationError as exc:  # renewed in the meantime by someone else
        logger.info("Policy %s not renewed by the sweep: %s", policy.pk, exc)
        return None
