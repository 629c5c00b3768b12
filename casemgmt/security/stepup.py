"""Step-up: a second factor not older than a few minutes before the acts the privacy policy names
(``privacy.STEP_UP_ACTS``: minting a token, downloading anything unmasked, breaking the glass).

A password that leaked, or a session left open on a shared office computer, must not be enough to
take a family's data out of the system. A session is fresh for ``STEP_UP_SECONDS`` after its last
verified code (sign-in or the step-up page); an API client without a session sends the code of the
moment in the ``X-OTP`` header instead. Tokens never count: a token cannot vouch for itself.
"""
import time

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_otp import match_token
from rest_framework import exceptions

from casemgmt.core import privacy

SESSION_KEY = "casemgmt_otp_verified_at"
HEADER = "HTTP_X_OTP"


def step_up_seconds():
    return settings.STEP_UP_SECONDS


def otp_mark(request):
    """Record in the session that its user just proved their second factor."""
    if hasattr(request, "session"):
        request.session[SESSION_KEY] = time.time()


def _session_fresh(request):
    session = getattr(request, "session", None)
    if session is None or getattr(request, "auth", None) is not None:
        return False  # authenticated by a token: the session, if any, is not the caller's proof
    verified_at = session.get(SESSION_KEY)
    return isinstance(verified_at, int | float) and time.time() - verified_at <= step_up_seconds()


def _header_code_matches(request):
    code = (request.META.get(HEADER) or "").strip()
    if not code or not code.isdigit() or len(code) > 8:
        return False
    return match_token(request.user, code) is not None


def step_up_ok(request, act):
    """True when ``act`` needs no step-up, or ``request`` carries a fresh second factor."""
    if not privacy.needs_step_up(act):
        return True
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    return _session_fresh(request) or _header_code_matches(request)


class StepUpRequired(exceptions.PermissionDenied):
    """The API's answer (403, code ``step_up_required``) to a step-up act without a fresh second factor."""

    default_detail = _("This needs a fresh code from your authenticator: confirm at /step-up/ or send the "
                       "current code in the X-OTP header.")
    default_code = "step_up_required"


def require_step_up(request, act):
    """Raise ``StepUpRequired`` unless ``step_up_ok(request, act)``."""
    if not step_up_ok(request, act):
        raise StepUpRequired()
