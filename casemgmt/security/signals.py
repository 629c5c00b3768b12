"""Sign-in events into the audit trail: logins, logouts, failed attempts and lockouts.

The attempted username is recorded on failures (auditors look for guessing), never the password.
"""
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from casemgmt.core.audit import audit_log


def _ip(request):
    return (request.META.get("REMOTE_ADDR") or None) if request is not None else None


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    path = getattr(request, "path", "") or ""
    audit_log(actor=user, event="auth.login", obj=user, ip=_ip(request), after={"path": path[:200]})


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_log(actor=user, event="auth.logout", obj=user, ip=_ip(request))


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    audit_log(actor=None, event="auth.login_failed", ip=_ip(request), after={"username": username})


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    audit_log(actor=None, event="auth.locked_out", ip=ip_address or _ip(request), after={"username": (username or "")[:150]})
