"""Writes about activities, insurance and funds: check-ins, renewals with their roster, claims, payouts.

Every rule is here once; the admin, the API and tasks call these. Counting rules (capacity, a
claim's remaining days) are checked while the row they depend on is locked.
"""
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from casemgmt.core import privacy
from casemgmt.core.audit import audit_log
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import Notification, Role
from casemgmt.core.notifications import notify_many
from casemgmt.core.reach import region_within_reach
from families.models import ContactAssignment

from .models import (
    Activity,
    ActivityAttendance,
    ActivityInvitation,
    ConsolationVisit,
    Disbursement,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
)


def _check_reach(actor, path):
    """``actor`` None is the system itself (a task or a command), which reaches everything."""
    if actor is not None and not region_within_reach(actor, path):
        raise OutOfReachError()


def _open_family_statuses():
    from families.models import Family

    return (Family.Status.REGISTERED, Family.Status.ACTIVE)


# --- activities -------------------------------------------------------------------------------

CLOSED = (Activity.Status.CANCELLED, Activity.Status.COMPLETED)


def attendance_open(activity, now=None):
    """Whether attendance may be taken: from the activity's start on. Ticked ahead of time it would
    be a guess, and the figures (which count ``ActivityAttendance``) would count what has not happened."""
    return (now or timezone.now()) >= activity.starts_at


def _not_started(activity):
    return ValidationError({"activity": _("Attendance can be taken once the activity has started (%(start)s).") % {
        "start": timezone.localtime(activity.starts_at).strftime("%Y-%m-%d %H:%M")}})


def activity_plan(*, actor, title, category, starts_at, ends_at, site=None, region=None, capacity=None, description="",
                  local_name=""):
    """Plan a "5+N" activity at ``site`` (in its region) or, without a site, in ``region`` (a home-care
    round): within the actor's reach and in the future."""
    if site is not None:
        if region is not None and not site.region.path.startswith(region.path):
            raise ValidationError({"site": _("The site lies outside the activity's region.")})
        region = site.region
    if region is None:
        raise ValidationError({"site": _("Choose the site of the activity.")})
    _check_reach(actor, region.path)
    activity = Activity(
        title=title, category=category, local_name=local_name, site=site, region=region, starts_at=starts_at,
        ends_at=ends_at, capacity=capacity, description=description, organiser=actor, status=Activity.Status.PLANNED,
    )
    if category == Activity.Category.LOCAL and not local_name:
        raise ValidationError({"local_name": _("A local signature activity needs its name.")})
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationError({"ends_at": _("An activity ends after it starts.")})
    activity.full_clean()
    if starts_at <= timezone.now():
        raise ValidationError({"starts_at": _("A new activity must start in the future.")})
    with transaction.atomic():
        activity.save()
        audit_log(actor=actor, event="services.activity.planned", obj=activity, region_path=region.path,
                  after={"category": category, "site": site.pk if site else None, "starts_at": starts_at,
                         "capacity": capacity})
    return activity


INVITED_YOU = _("You are invited to “%(title)s” on %(time)s at %(place)s.")
INVITED_MEMBER = _("%(member)s is invited to “%(title)s” on %(time)s at %(place)s. Please pass it on.")


def _invitation_notifications(activity, members, volunteers, link):
    """The invitations as notifications: a volunteer with an account hears it themself; a family
    member through the family's current contact persons (family members have no account)."""
    when = f"{timezone.localtime(activity.starts_at):%Y-%m-%d %H:%M}"
    place = activity.site.name if activity.site else activity.region.name
    items = []
    for volunteer in volunteers:
        user = volunteer.user
        if user is None or not user.is_active:
            continue
        with translation.override(user.language):
            title = INVITED_YOU % {"title": activity.title, "time": when, "place": place}
        items.append(Notification(
            recipient=user, kind="activities.invitation", level=Notification.Level.INFO, title=title[:200], link=link,
            dedup_key=f"activity:{activity.pk}:invitation:volunteer:{volunteer.pk}",
        ))
    contacts = ContactAssignment.objects.filter(
        family__in={m.family_id for m in members}, ended_on__isnull=True, user__is_active=True,
    ).select_related("user")
    by_family = {}
    for assignment in contacts:
        by_family.setdefault(assignment.family_id, {})[assignment.user_id] = assignment.user
    for member in members:
        for user in by_family.get(member.family_id, {}).values():
            with translation.override(user.language):
                # Mailed and texted: the member's name as it may leave the system.
                title = INVITED_MEMBER % {"member": privacy.outbound(type(member), "name", member.name, user),
                                          "title": activity.title, "time": when, "place": place}
            items.append(Notification(
                recipient=user, kind="activities.invitation", level=Notification.Level.INFO, title=title[:200],
                family_id=member.family_id, dedup_key=f"activity:{activity.pk}:invitation:member:{member.pk}:{user.pk}",
            ))
    return notify_many(items, digest=False)


def activity_invite(*, actor, activity, members=(), volunteers=(), notify=False, link=""):
    """Invite family members and volunteers to an activity; inviting someone again changes nothing.
    Invited family members count against the capacity (volunteers staff the activity, they take no
    seat). With ``notify``, the new invitees (or their families' contact persons) are told once.
    Returns the new invitations."""
    members, volunteers = list(members), list(volunteers)
    if not members and not volunteers:
        raise ValidationError({"member": _("Choose at least one family member or volunteer to invite.")})
    _check_reach(actor, activity.region.path)
    for member in members:
        _check_reach(actor, member.family.region_path)
        if member.is_deceased:
            raise ValidationError({"member": _("%(name)s is recorded as deceased.") % {"name": member.name}})
    for volunteer in volunteers:
        _check_reach(actor, volunteer.region.path)
    with transaction.atomic():
        locked = Activity.objects.select_for_update(of=("self",)).select_related("region", "site").get(pk=activity.pk)
        if locked.status in CLOSED:
            raise ValidationError({"activity": _("Invitations for this activity are closed.")})
        invited = ActivityInvitation.objects.filter(activity=locked)
        known_members = set(invited.filter(member__isnull=False).values_list("member_id", flat=True))
        known_volunteers = set(invited.filter(volunteer__isnull=False).values_list("volunteer_id", flat=True))
        new_members = [m for m in dict.fromkeys(members) if m.pk not in known_members]
        new_volunteers = [v for v in dict.fromkeys(volunteers) if v.pk not in known_volunteers]
        if new_members and locked.capacity is not None:
            seats = invited.filter(member__isnull=False).exclude(status=ActivityInvitation.Status.DECLINED).count()
            left = max(locked.capacity - seats, 0)
            if len(new_members) > left:
                raise ValidationError({"member": _(
                    "The activity has %(left)s places left; %(wanted)s family members were chosen.") % {
                    "left": left, "wanted": len(new_members)}})
        created = ActivityInvitation.objects.bulk_create(
            [ActivityInvitation(activity=locked, member=m, invited_by=actor) for m in new_members]
            + [ActivityInvitation(activity=locked, volunteer=v, invited_by=actor) for v in new_volunteers])
        if created:
            audit_log(actor=actor, event="services.activity.invited", obj=locked, region_path=locked.region.path,
                      after={"members": [m.pk for m in new_members], "volunteers": [v.pk for v in new_volunteers]})
        if notify and created:
            _invitation_notifications(locked, new_members, new_volunteers, link)
    return created


def invitation_answer(*, actor, invitation, status):
    """Record the answer an invitee gave (accepted or declined); a declined family member frees a place."""
    if status not in (ActivityInvitation.Status.ACCEPTED, ActivityInvitation.Status.DECLINED):
        raise ValidationError({"status": _("Answer with accepted or declined.")})
    _check_reach(actor, invitation.activity.region.path)
    with transaction.atomic():
        before = invitation.status
        ActivityInvitation.objects.filter(pk=invitation.pk).update(status=status)
        audit_log(actor=actor, event="services.invitation.answered", obj=invitation,
                  region_path=invitation.activity.region.path, family_id=invitation.member.family_id
                  if invitation.member_id else None, before={"status": before}, after={"status": status})
    invitation.status = status
    return invitation


def activity_checkin(*, actor, activity, member=None, volunteer=None, method=ActivityAttendance.Method.LIST):
    """Check a family member or a volunteer in at an activity, once each, within its capacity and
    not before it starts."""
    if (member is None) == (volunteer is None):
        raise ValidationError({"member": _("Check in either a family member or a volunteer.")})
    _check_reach(actor, activity.region.path)
    if member is not None:
        if actor is not None and actor.role == Role.VOLUNTEER:
            # Volunteers check in themselves; family members are checked in by staff.
            raise PermissionDenied(_("Volunteers can only check themselves in."))
        if member.is_deceased:
            raise ValidationError({"member": _("This member is recorded as deceased.")})
        _check_reach(actor, member.family.region_path)
    else:
        if actor is not None and actor.role == Role.VOLUNTEER and volunteer.user_id != actor.pk:
            raise OutOfReachError()
        if actor is not None and actor.role != Role.VOLUNTEER:
            _check_reach(actor, volunteer.region.path)
    try:
        with transaction.atomic():
            locked = Activity.objects.select_for_update(of=("self",)).select_related("region").get(pk=activity.pk)
            if locked.status in CLOSED:
                raise ValidationError({"activity": _("Check-in for this activity is closed.")})
            if not attendance_open(locked):
                raise _not_started(locked)
            person = {"member": member} if member is not None else {"volunteer": volunteer}
            if ActivityAttendance.objects.filter(activity=locked, **person).exists():
                raise ValidationError({next(iter(person)): _("This person has already checked in.")})
            # Capacity counts the people served; volunteers working at the activity do not take a seat.
            if member is not None and locked.capacity is not None:
                seated = ActivityAttendance.objects.filter(activity=locked, member__isnull=False).count()
                if seated >= locked.capacity:
                    raise ValidationError({"activity": _("The activity is full.")})
            attendance = ActivityAttendance.objects.create(activity=locked, method=method, **person)
            audit_log(actor=actor, event="services.activity.checked_in", obj=attendance,
                      family_id=member.family_id if member is not None else None, region_path=locked.region.path,
                      after={"activity": locked.pk, **{k: v.pk for k, v in person.items()}, "method": method})
    except IntegrityError:
        # The unique constraints settle a race between two scans of the same person.
        field = "member" if member is not None else "volunteer"
        raise ValidationError({field: _("This person has already checked in.")}) from None
    return attendance


def attendance_remove(*, actor, attendance):
    """Untick someone ticked by mistake; the figures follow (their tallies count the rows)."""
    activity = attendance.activity
    _check_reach(actor, activity.region.path)
    if activity.status in CLOSED:
        raise ValidationError({"activity": _("Check-in for this activity is closed.")})
    with transaction.atomic():
        audit_log(actor=actor, event="services.activity.checkin_removed", obj=attendance,
                  family_id=attendance.member.family_id if attendance.member_id else None,
                  region_path=activity.region.path,
                  before={"activity": activity.pk, "member": attendance.member_id, "volunteer": attendance.volunteer_id})
        attendance.delete()


def activity_attendance_set(*, actor, activity, members=(), volunteers=()):
    """Make who came exactly ``members`` and ``volunteers`` (the list as ticked on the day): the new
    ones are checked in, the ones no longer ticked are taken off. Returns (added, removed)."""
    _check_reach(actor, activity.region.path)
    if not attendance_open(activity):
        raise _not_started(activity)
    wanted_members = {m.pk: m for m in members}
    wanted_volunteers = {v.pk: v for v in volunteers}
    added, removed = 0, 0
    with transaction.atomic():
        for row in ActivityAttendance.objects.filter(activity=activity).select_related("activity__region", "member"):
            if row.member_id is not None and wanted_members.pop(row.member_id, None) is None:
                attendance_remove(actor=actor, attendance=row)
                removed += 1
            elif row.volunteer_id is not None and wanted_volunteers.pop(row.volunteer_id, None) is None:
                attendance_remove(actor=actor, attendance=row)
                removed += 1
        for member in wanted_members.values():
            activity_checkin(actor=actor, activity=activity, member=member)
            added += 1
        for volunteer in wanted_volunteers.values():
            activity_checkin(actor=actor, activity=activity, volunteer=volunteer)
            added += 1
    return added, removed


def activity_checkin_by_token(*, actor, token, member=None, volunteer=None):
    """Check in by the activity's QR code: open from its start to its end."""
    activity = Activity.objects.select_related("region").filter(qr_token=token).first()
    if activity is None:
        raise ValidationError({"token": _("This QR code does not belong to any activity.")})
    if not attendance_open(activity) or timezone.now() > activity.ends_at:
        raise ValidationError({"token": _("Check-in for this activity is not open now.")})
    return activity_checkin(actor=actor, activity=activity, member=member, volunteer=volunteer,
                            method=ActivityAttendance.Method.QR)


# --- insurance --------------------------------------------------------------------------------

def _still_insurable(insured, region_path):
    member = insured.member
    return (not member.is_deceased and member.family.status in _open_family_statuses()
            and member.family.region_path.startswith(region_path))


def policy_renew(*, actor, policy):
    """Draft next year's policy; the roster carries over the members who are still eligible."""
    _check_reach(actor, policy.region.path)
    if policy.status not in (InsurancePolicy.Status.ACTIVE, InsurancePolicy.Status.EXPIRED):
        raise ValidationError({"status": _("Only an active or expired policy can be renewed.")})
    try:
        with transaction.atomic():
            locked = InsurancePolicy.objects.select_for_update(of=("self",)).select_related("region").get(pk=policy.pk)
            if InsurancePolicy.objects.filter(renews=locked).exists():
                raise ValidationError({"status": _("This policy has already been renewed.")})
            renewal = InsurancePolicy.objects.create(
                insurer=locked.insurer, product_kind=locked.product_kind, region=locked.region,
                starts_on=locked.starts_on + relativedelta(years=1), ends_on=locked.ends_on + relativedelta(years=1),
                premium=locked.premium, daily_allowance=locked.daily_allowance, max_days=locked.max_days,
                status=InsurancePolicy.Status.DRAFT, renews=locked, responsible=locked.responsible,
            )
            roster = locked.roster.select_related("member__family")
            kept = [InsuredPerson(policy=renewal, member_id=i.member_id, premium=i.premium)
                    for i in roster if _still_insurable(i, locked.region.path)]
            InsuredPerson.objects.bulk_create(kept)
            audit_log(actor=actor, event="services.policy.renewed", obj=renewal, region_path=locked.region.path,
                      before={"policy": locked.pk, "roster": locked.roster.count()},
                      after={"policy": renewal.pk, "roster": [i.member_id for i in kept]})
    except IntegrityError:  # the one-to-one ``renews`` settles two renewals at once
        raise ValidationError({"status": _("This policy has already been renewed.")}) from None
    return renewal


def roster_add(*, actor, policy, member, premium=None):
    """Insure a living member of an open case who lives in the policy's region."""
    _check_reach(actor, policy.region.path)
    _check_reach(actor, member.family.region_path)
    if policy.status not in (InsurancePolicy.Status.DRAFT, InsurancePolicy.Status.ACTIVE):
        raise ValidationError({"policy": _("People can only be added to a draft or active policy.")})
    if member.is_deceased or member.family.status not in _open_family_statuses():
        raise ValidationError({"member": _("Only a living member of an open case can be insured.")})
    if not member.family.region_path.startswith(policy.region.path):
        raise ValidationError({"member": _("The member lives outside the policy's region.")})
    if premium is not None and Decimal(premium) < 0:
        raise ValidationError({"premium": _("The premium cannot be negative.")})
    try:
        with transaction.atomic():
            insured = InsuredPerson.objects.create(policy=policy, member=member, premium=premium)
            audit_log(actor=actor, event="services.roster.added", obj=insured, family_id=member.family_id,
                      region_path=member.family.region_path, after={"policy": policy.pk, "member": member.pk})
    except IntegrityError:
        raise ValidationError({"member": _("This member is already insured by this policy.")}) from None
    return insured


def roster_remove(*, actor, insured):
    """Take someone off a draft policy's roster; an active policy's roster is the insurer's record."""
    _check_reach(actor, insured.member.family.region_path)
    if insured.policy.status != InsurancePolicy.Status.DRAFT:
        raise ValidationError({"policy": _("Only a draft policy's roster can be changed.")})
    with transaction.atomic():
        audit_log(actor=actor, event="services.roster.removed", obj=insured, family_id=insured.member.family_id,
                  region_path=insured.member.family.region_path,
                  before={"policy": insured.policy_id, "member": insured.member_id})
        insured.delete()


def policy_activate(*, actor, policy):
    _check_reach(actor, policy.region.path)
    with transaction.atomic():
        updated = InsurancePolicy.objects.filter(pk=policy.pk, status=InsurancePolicy.Status.DRAFT).update(
            status=InsurancePolicy.Status.ACTIVE, updated_at=timezone.now())
        if updated != 1:
            raise ValidationError({"status": _("Only a draft policy can be activated.")})
        if not InsuredPerson.objects.filter(policy_id=policy.pk).exists():
            raise ValidationError({"roster": _("A policy needs at least one insured person.")})
        audit_log(actor=actor, event="services.policy.activated", obj=policy, region_path=policy.region.path,
                  before={"status": InsurancePolicy.Status.DRAFT}, after={"status": InsurancePolicy.Status.ACTIVE})
    policy.refresh_from_db()
    return policy


def claim_file(*, actor, policy, member, incident_date, amount_claimed=None, hospital_days=None, diagnosis=""):
    """File a claim for an insured member. A nursing-allowance claim pays per day in hospital,
    up to the policy's maximum days per policy year (days of earlier claims count)."""
    _check_reach(actor, member.family.region_path)
    if policy.status not in (InsurancePolicy.Status.ACTIVE, InsurancePolicy.Status.EXPIRED):
        raise ValidationError({"policy": _("Claims can only be filed against an active or expired policy.")})
    if not policy.starts_on <= incident_date <= policy.ends_on:
        raise ValidationError({"incident_date": _("The incident is outside the policy period.")})
    if amount_claimed is not None and Decimal(amount_claimed) < 0:
        raise ValidationError({"amount_claimed": _("The amount cannot be negative.")})
    with transaction.atomic():
        # Locking the member's roster line serialises claims of one person, so days are not counted twice.
        insured = InsuredPerson.objects.select_for_update().filter(policy=policy, member=member).first()
        if insured is None:
            raise ValidationError({"member": _("This member is not insured by this policy.")})
        if policy.product_kind == InsurancePolicy.ProductKind.NURSING_ALLOWANCE:
            if not hospital_days:
                raise ValidationError({"hospital_days": _("Give the number of days in hospital.")})
            if policy.daily_allowance is None:
                raise ValidationError({"policy": _("The policy has no daily allowance.")})
            used = InsuranceClaim.objects.filter(policy=policy, member=member).exclude(
                status=InsuranceClaim.Status.REJECTED).aggregate(days=Sum("hospital_days"))["days"] or 0
            days = hospital_days if policy.max_days is None else max(0, min(hospital_days, policy.max_days - used))
            if days == 0:
                raise ValidationError({"hospital_days": _("No insured days are left for this member in this policy year.")})
            cap = policy.daily_allowance * days
            if amount_claimed is None:
                amount_claimed = cap
            elif Decimal(amount_claimed) > cap:
                raise ValidationError({"amount_claimed": _("At most %(cap)s CNY can be claimed (%(days)s days).") % {
                    "cap": cap, "days": days}})
        elif amount_claimed is None:
            raise ValidationError({"amount_claimed": _("Give the amount claimed.")})
        claim = InsuranceClaim.objects.create(
            policy=policy, member=member, incident_date=incident_date, hospital_days=hospital_days,
            amount_claimed=amount_claimed, diagnosis=diagnosis,
        )
        audit_log(actor=actor, event="services.claim.filed", obj=claim, family_id=member.family_id,
                  region_path=member.family.region_path,
                  after={"policy": policy.pk, "member": member.pk, "amount_claimed": amount_claimed})
    return claim


def claim_settle(*, actor, claim, amount):
    _check_reach(actor, claim.member.family.region_path)
    amount = Decimal(amount)
    if amount < 0:
        raise ValidationError({"amount": _("The amount cannot be negative.")})
    if amount > claim.amount_claimed:
        raise ValidationError({"amount": _("The settled amount cannot exceed the amount claimed.")})
    today = timezone.localdate()
    with transaction.atomic():
        updated = InsuranceClaim.objects.filter(
            pk=claim.pk, status__in=(InsuranceClaim.Status.FILED, InsuranceClaim.Status.UNDER_REVIEW),
        ).update(status=InsuranceClaim.Status.SETTLED, amount_settled=amount, settled_on=today, updated_at=timezone.now())
        if updated != 1:
            raise ValidationError({"status": _("This claim has already been decided.")})
        audit_log(actor=actor, event="services.claim.settled", obj=claim, family_id=claim.member.family_id,
                  region_path=claim.member.family.region_path, before={"status": claim.status},
                  after={"status": InsuranceClaim.Status.SETTLED, "amount_settled": amount})
    claim.refresh_from_db()
    return claim


def claim_reject(*, actor, claim, reason):
    _check_reach(actor, claim.member.family.region_path)
    if not reason:
        raise ValidationError({"reason": _("Give a reason for rejecting the claim.")})
    with transaction.atomic():
        updated = InsuranceClaim.objects.filter(
            pk=claim.pk, status__in=(InsuranceClaim.Status.FILED, InsuranceClaim.Status.UNDER_REVIEW),
        ).update(status=InsuranceClaim.Status.REJECTED, updated_at=timezone.now())
        if updated != 1:
            raise ValidationError({"status": _("This claim has already been decided.")})
        audit_log(actor=actor, event="services.claim.rejected", obj=claim, family_id=claim.member.family_id,
                  region_path=claim.member.family.region_path, before={"status": claim.status},
                  after={"status": InsuranceClaim.Status.REJECTED}, reason=reason)
    claim.refresh_from_db()
    return claim


def premium_payment_amount(*, policy, amount=None, member=None, roster=None):
    """The amount a payment for ``policy`` records, or a ``ValidationError`` by field: a policy that
    was bought, a member on its roster, and without ``amount`` that member's premium on the roster.
    ``roster`` ({(policy id, member id): InsuredPerson}) spares the lookup to a caller that has it."""
    if policy.status not in (InsurancePolicy.Status.ACTIVE, InsurancePolicy.Status.EXPIRED):
        raise ValidationError({"policy": _("Premiums are paid for an active or expired policy.")})
    if member is not None:
        if roster is not None:
            insured = roster.get((policy.pk, member.pk))
        else:
            insured = InsuredPerson.objects.filter(policy=policy, member=member).first()
        if insured is None:
            raise ValidationError({"member": _("This member is not insured by this policy.")})
        if amount is None:
            amount = insured.premium
            if amount is None:
                raise ValidationError({"amount": _("The roster gives no premium for this person: give the amount.")})
    if amount is None:
        raise ValidationError({"amount": _("Give the amount paid.")})
    amount = Decimal(amount)
    if amount < 0:
        raise ValidationError({"amount": _("The amount cannot be negative.")})
    return amount


def premium_payment_record(*, actor, policy, paid_on, amount=None, member=None, reference=""):
    """Record a premium paid for ``policy`` on ``paid_on``: for the whole policy (``amount`` required)
    or for one insured person (without ``amount``, that person's premium on the roster)."""
    _check_reach(actor, policy.region.path)
    amount = premium_payment_amount(policy=policy, amount=amount, member=member)
    try:
        with transaction.atomic():
            payment = PremiumPayment.objects.create(policy=policy, member=member, paid_on=paid_on, amount=amount,
                                                    reference=reference, recorded_by=actor)
            audit_log(actor=actor, event="services.premium.paid", obj=payment,
                      family_id=member.family_id if member is not None else None, region_path=policy.region.path,
                      after={"policy": policy.pk, "member": member.pk if member is not None else None,
                             "paid_on": paid_on, "amount": amount})
    except IntegrityError:
        raise ValidationError({"paid_on": _("This payment has already been recorded.")}) from None
    return payment


def premium_payment_change(*, actor, payment, amount=None, reference=None):
    """Correct the amount or the receipt of a recorded payment (its policy, person and date are the
    payment itself); without ``amount``, the person's premium on the roster, as when recorded."""
    policy = payment.policy
    _check_reach(actor, policy.region.path)
    before = {"amount": payment.amount, "reference": payment.reference}
    payment.amount = premium_payment_amount(policy=policy, amount=amount, member=payment.member)
    if reference is not None:
        payment.reference = reference
    with transaction.atomic():
        payment.save(update_fields=["amount", "reference"])
        audit_log(actor=actor, event="services.premium.changed", obj=payment,
                  family_id=payment.member.family_id if payment.member_id is not None else None,
                  region_path=policy.region.path, before=before,
                  after={"amount": payment.amount, "reference": payment.reference})
    return payment


# --- consolation ------------------------------------------------------------------------------

VISIT_FIELDS = ("member", "visited_on", "visitor", "visiting_party", "occasion", "cash", "goods", "goods_value",
                "fund", "notes")


def _visit_checked(actor, visit):
    """Reach of ``visit`` (unsaved changes included); the model checks the rest, the database the key."""
    _check_reach(actor, visit.family.region_path)
    if visit.fund_id is not None:
        _check_reach(actor, visit.fund.region.path)
    visit.full_clean()


def _visit_saved(actor, visit, event, before=None):
    try:
        with transaction.atomic():
            visit.save()
            audit_log(actor=actor, event=event, obj=visit, family_id=visit.family_id,
                      region_path=visit.family.region_path, before=before,
                      after={name: getattr(visit, f"{name}_id", getattr(visit, name, None)) for name in VISIT_FIELDS})
    except IntegrityError:
        raise ValidationError({"visited_on": _("This visit has already been recorded.")}) from None
    return visit


def consolation_visit_record(*, actor, family, visited_on, member=None, visitor=None, visiting_party="", occasion="",
                             cash=0, goods="", goods_value=0, fund=None, notes=""):
    """Record a consolation visit to ``family`` (or one of its members), with what was given, if anything."""
    visit = ConsolationVisit(family=family, member=member, visited_on=visited_on, visitor=visitor,
                             visiting_party=visiting_party or "", occasion=occasion or "", cash=cash or 0,
                             goods=goods or "", goods_value=goods_value or 0, fund=fund, notes=notes or "",
                             recorded_by=actor)
    _visit_checked(actor, visit)
    return _visit_saved(actor, visit, "services.consolation.recorded")


def consolation_visit_change(*, actor, visit, **changes):
    """Correct a recorded visit (the family it was made to stays)."""
    before = {name: getattr(visit, f"{name}_id", getattr(visit, name, None)) for name in VISIT_FIELDS}
    for name, value in changes.items():
        if name not in VISIT_FIELDS:
            raise ValidationError({name: _("This field cannot be changed.")})
        setattr(visit, name, value)
    _visit_checked(actor, visit)
    return _visit_saved(actor, visit, "services.consolation.changed", before=before)


# --- funds ------------------------------------------------------------------------------------

def disbursement_record(*, actor, fund, kind, amount, paid_on=None, family=None, member=None, volunteer=None,
                        recipient_name="", goods="", period="", description="", outcome="", outcome_amount=None):
    """Record money or goods paid out of a fund to a recipient inside the fund's region."""
    _check_reach(actor, fund.region.path)
    amount = Decimal(amount)
    if amount < 0:
        raise ValidationError({"amount": _("The amount cannot be negative.")})
    if member is not None:
        if family is not None and member.family_id != family.pk:
            raise ValidationError({"member": _("This member belongs to another family.")})
        family = family or member.family
    if family is not None:
        _check_reach(actor, family.region_path)
        if not family.region_path.startswith(fund.region.path):
            raise ValidationError({"family": _("The family lives outside the fund's region.")})
    if volunteer is not None:
        _check_reach(actor, volunteer.region.path)
    if family is None and volunteer is None and not recipient_name:
        raise ValidationError({"recipient_name": _("Name who received it.")})
    disbursement = Disbursement(
        fund=fund, kind=kind, amount=amount, paid_on=paid_on or timezone.localdate(), family=family, member=member,
        volunteer=volunteer, recipient_name=recipient_name, goods=goods, period=period, description=description,
        outcome=outcome, outcome_amount=outcome_amount, recorded_by=actor if actor is not None else None,
    )
    disbursement.full_clean()
    with transaction.atomic():
        disbursement.save()
        audit_log(actor=actor, event="services.disbursement.recorded", obj=disbursement,
                  family_id=family.pk if family else None, region_path=fund.region.path,
                  after={"fund": fund.pk, "kind": kind, "amount": amount})
    return disbursement

