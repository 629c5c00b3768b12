"""Sign-in lockout that protects the account without excluding its owner (django-axes handler).

Two counts, over the failures of the last ``AXES_FAILURE_WINDOW_HOURS``:

- one username from one address (``AXES_FAILURE_LIMIT``): guessing one colleague's password;
- one address, whatever the usernames (``AXES_ADDRESS_FAILURE_LIMIT``): password spraying.

Past a limit the address waits, and each failure beyond it doubles the wait (``AXES_BACKOFF_*``),
instead of a fixed hour's lock. Both counts are keyed on the client's address
(``network.client_ip``, which honours the trusted proxies), so an attacker's failures slow down the
attacker's address only: the owner of the account signs in from anywhere else as usual.
"""
import datetime

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Max, Sum
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def backoff(excess):
    """The wait after ``excess`` failures beyond a limit: the base, doubled each time, capped."""
    base, cap = settings.AXES_BACKOFF_BASE_SECONDS, settings.AXES_BACKOFF_MAX_SECONDS
    return datetime.timedelta(seconds=min(base * 2 ** min(excess, 32), cap))


def failure_window(request=None):
    """How long failures are remembered (django-axes' ``AXES_COOLOFF_TIME``)."""
    return datetime.timedelta(hours=settings.AXES_FAILURE_WINDOW_HOURS)


def _count(attempts):
    row = attempts.aggregate(n=Sum("failures_since_start"), last=Max("attempt_time"))
    return row["n"] or 0, row["last"]


def remaining_wait(request, credentials=None):
    """How much longer the client of ``request`` must wait before trying ``credentials``' username."""
    ip = getattr(request, "axes_ip_address", None)
    now = timezone.now()
    attempts = AccessAttempt.objects.filter(ip_address=ip, attempt_time__gte=now - failure_window())
    username = get_client_username(request, credentials)
    counts = [(_count(attempts), settings.AXES_ADDRESS_FAILURE_LIMIT)]
    if username:
        counts.append((_count(attempts.filter(username=username)), settings.AXES_FAILURE_LIMIT))
    wait = datetime.timedelta(0)
    for (failures, last), limit in counts:
        if failures >= limit and last is not None:
            wait = max(wait, last + backoff(failures - limit) - now)
    return wait


class BackoffHandler(AxesDatabaseHandler):
    """django-axes' database records, with the two limits and the growing wait above."""

    def is_locked(self, request, credentials=None):
        wait = remaining_wait(request, credentials)
        request.casemgmt_wait = wait
        return wait > datetime.timedelta(0)

    def get_failures(self, request, credentials=None):
        return max((attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0)
                   for attempts in self.get_user_attempts(request, credentials))

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        # Records the failure (django-axes' own decision is off: AXES_LOCK_OUT_AT_FAILURE=False).
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is not None and not self.is_whitelisted(request, credentials) and self.is_locked(request, credentials):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=get_client_username(request, credentials),
                                 ip_address=request.axes_ip_address)


def wait_message(wait):
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    return ngettext(
        "Too many failed sign-ins from this address. Try again in %(minutes)d minute.",
        "Too many failed sign-ins from this address. Try again in %(minutes)d minutes.",
        minutes) % {"minutes": minutes}


def lockout_response(request, original_response=None, credentials=None):
    """The sign-in page again, with how long to wait (429), rather than a bare refusal."""
    from .forms import SignInForm

    wait = getattr(request, "casemgmt_wait", None) or remaining_wait(request, credentials)
    form = SignInForm(request, data=None)
    form.full_clean()  # an unbound form: no errors yet, and a place to add one
    form.cleaned_data = {}
    form.add_error(None, wait_message(wait))
    admin = request.path.startswith("/admin/")
    template = "security/admin_login.html" if admin else "workspace/login.html"
    context = {"form": form, "next": request.POST.get("next", ""), "title": _("Log in")}
    if admin:
        from django.contrib import admin as django_admin

        context.update(django_admin.site.each_context(request))
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(max(1, int(wait.total_seconds())))
    return response
