"""Consent enforced, not just stored (PIPL art. 14, 29).

For one family and purpose the latest ``ConsentRecord`` wins (by ``recorded_at``, then id): a later
refusal overrides an earlier consent, and a record carrying ``withdrawn_at`` counts as withdrawn
from the moment it is saved. A member's own records and the family-wide records (member empty) are
weighed together for that member; a family-level question looks at family-wide records only.
No record means no consent.
"""
from django.db.models import OuterRef, Q, Subquery

from .models import ConsentRecord, FamilyMember

Purpose = ConsentRecord.Purpose

# Which purpose each outgoing message channel needs.
CHANNEL_PURPOSES = {"sms": Purpose.CONTACT_SMS, "wechat": Purpose.CONTACT_WECHAT, "phone": Purpose.CONTACT_PHONE}

# Exports that hand personal data to someone outside the casework need that purpose's consent.
# (Case-management work lists rest on the statutory duty, not on consent.)
EXPORT_PURPOSES = {"public_posting": Purpose.PUBLIC_POSTING, "insurer_roster": Purpose.INSURANCE}


def _effective():
    return ConsentRecord.objects.filter(given=True, withdrawn_at__isnull=True)


def _latest(records):
    return records.order_by("-recorded_at", "-id")


def consent_allows(*, family, member=None, purpose):
    """Whether ``purpose`` is consented to now for ``member`` (or the family as a whole)."""
    records = ConsentRecord.objects.filter(family=family, purpose=purpose)
    if member is not None:
        records = records.filter(Q(member__isnull=True) | Q(member=member))
    else:
        records = records.filter(member__isnull=True)
    latest = _latest(records).only("given", "withdrawn_at").first()
    return latest is not None and latest.given and latest.withdrawn_at is None


def consent_filter(queryset, purpose, *, member="member", family=None):
    """``queryset`` without the people who have not consented to ``purpose``.

    ``member`` is the lookup from the queryset's rows to a ``FamilyMember`` (ignored when the rows
    are members themselves); ``family`` defaults to ``<member>__family``. One correlated subquery
    picks each person's latest record; the filter keeps rows whose latest record is effective.
    """
    if queryset.model is FamilyMember:
        member_ref, family_ref = "pk", family or "family"
    else:
        member_ref, family_ref = member, family or f"{member}__family"
    latest = _latest(
        ConsentRecord.objects.filter(family=OuterRef(family_ref), purpose=purpose)
        .filter(Q(member__isnull=True) | Q(member=OuterRef(member_ref)))
    ).values("pk")[:1]
    return queryset.annotate(_latest_consent=Subquery(latest)).filter(_latest_consent__in=_effective().values("pk"))
