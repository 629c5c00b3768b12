"""Personal API tokens: issuing, revoking, and ending all of a user's tokens when their password
changes or they are deactivated. Every step leaves an audit row in the user's region."""
import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from casemgmt.core.audit import audit_log

from .models import ApiToken


def token_max_days():
    return settings.API_TOKEN_MAX_DAYS


def token_issue(*, actor, name, days, ip=None):
    """A token of ``actor`` valid ``days`` days (at most ``API_TOKEN_MAX_DAYS``); (token, raw key)."""
    days = min(days, token_max_days())
    expires_at = timezone.now() + datetime.timedelta(days=days)
    with transaction.atomic():
        token, raw = ApiToken.issue(user=actor, name=name, expires_at=expires_at)
        audit_log(actor=actor, event="api.token.issued", obj=token, region_path=actor.reach_path or None, ip=ip,
                  after={"name": token.name, "expires_at": expires_at})
    return token, raw


def token_revoke(*, actor, token, ip=None):
    """Revoke one token (the row stays for the record)."""
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        audit_log(actor=actor, event="api.token.revoked", obj=token, region_path=token.user.reach_path or None,
                  ip=ip)


def user_tokens_revoke(*, user, reason, actor=None, ip=None):
    """Revoke every usable token of ``user``; one audit row naming them. Returns how many."""
    with transaction.atomic():
        tokens = list(ApiToken.objects.usable().filter(user=user).select_for_update())
        if not tokens:
            return 0
        ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=timezone.now())
        audit_log(actor=actor or user, event="api.token.revoked", objects=tokens,
                  region_path=user.reach_path or None, ip=ip, reason=reason, after={"count": len(tokens)})
    return len(tokens)
