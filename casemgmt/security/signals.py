"""Sign-in events into the audit trail: logins, logouts, failed attempts and lockouts; and the
revocation of a user's API tokens when their password changes or they are deactivated.

Each row carries the region of the account concerned (for a failure, the account of the attempted
username, when there is one), so that the auditors of that region see it. The attempted username is
recorded on failures (auditors look for guessing), never the password.
"""
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from casemgmt.core.audit import audit_log

from .network import client_ip


def _account(username):
    """The account an attempted username names, or None."""
    if not username:
        return None
    model = get_user_model()
    return model.objects.select_related("region").filter(**{model.USERNAME_FIELD: username}).first()


def _region(user):
    # None lets audit_log fall back to the object's region; '' (national) stays national.
    return user.reach_path if user is not None else None


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    path = getattr(request, "path", "") or ""
    audit_log(actor=user, event="auth.login", obj=user, region_path=_region(user), ip=client_ip(request),
              after={"path": path[:200]})


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_log(actor=user, event="auth.logout", obj=user, region_path=_region(user), ip=client_ip(request))


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    account = _account(username)
    audit_log(actor=None, event="auth.login_failed", obj=account, region_path=_region(account), ip=client_ip(request),
              after={"username": username})


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    account = _account(username)
    audit_log(actor=None, event="auth.locked_out", obj=account, region_path=_region(account),
              ip=ip_address or client_ip(request), after={"username": (username or "")[:150]})


@receiver(pre_save, sender=get_user_model())
def _remember_credentials(sender, instance, raw=False, **kwargs):
    """What the token revocation below compares with: the stored password hash and active flag."""
    if raw or instance.pk is None:
        return
    stored = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    instance._stored_credentials = stored


@receiver(post_save, sender=get_user_model())
def _revoke_tokens_on_credential_change(sender, instance, created=False, raw=False, update_fields=None, **kwargs):
    """A new password or a deactivation ends every API token the user holds: a token must not outlive
    the credential that made it."""
    stored = getattr(instance, "_stored_credentials", None)
    instance._stored_credentials = None
    if raw or created or not stored:
        return
    # Django re-hashes the same password with a stronger hasher at sign-in (saving only the hash,
    # its raw copy already cleared): not a new password.
    rehashed = update_fields is not None and set(update_fields) == {"password"} and instance._password is None
    if stored["password"] != instance.password and not rehashed:
        reason = "password_changed"
    elif stored["is_active"] and not instance.is_active:
        reason = "deactivated"
    else:
        return
    from casemgmt.api.services import user_tokens_revoke

    user_tokens_revoke(user=instance, reason=reason)
