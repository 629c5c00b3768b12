"""Sign-in pages: the one sign-in (workspace and admin), enrolment of an authenticator by QR code,
recovery codes and the step-up page that renews the second factor before a sensitive act."""
import time
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from . import otp, stepup
from .forms import CodeForm, SignInForm
from .network import client_ip
from .totp import totp_secret

# A correct password of a user without an authenticator opens only the enrolment page, for a while.
PENDING_KEY = "casemgmt_enrol_pending"
ENROL_SECONDS = 10 * 60
# Recovery codes just made, shown once by the next page.
FRESH_CODES_KEY = "casemgmt_recovery_codes"


def safe_next(request, target, default):
    """``target`` when it is a path on this site, else ``default``."""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return default


def sign_in_complete(request, user, backend=None):
    """Log ``user`` in (their verified device travels as ``user.otp_device``) and mark the second
    factor fresh for step-up acts."""
    auth_login(request, user, backend=backend)
    if getattr(user, "otp_device", None) is not None:
        stepup.otp_mark(request)


class SignInView(auth_views.LoginView):
    """Django's LoginView with the one sign-in form; a user still to enrol goes to enrolment."""

    authentication_form = SignInForm
    redirect_authenticated_user = True
    default_next = "workspace:home"

    def form_valid(self, form):
        user = form.get_user()
        if form.needs_enrolment:
            self.request.session.cycle_key()
            self.request.session[PENDING_KEY] = {
                "user": user.pk, "at": time.time(), "backend": user.backend, "next": self.get_redirect_url()}
            return redirect("otp_enrol")
        sign_in_complete(self.request, user)
        return redirect(self.get_success_url())

    def get_default_redirect_url(self):
        return reverse(self.default_next)


def _pending_user(request):
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > ENROL_SECONDS:
        return None, None
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()
    return user, pending


def _qr_svg(device):
    return segno.make(device.config_url, error="m").svg_inline(scale=4, title=_("QR code for your authenticator app"))


@never_cache
@sensitive_post_parameters("otp_token")
@require_http_methods(["GET", "POST"])
def enrol(request):
    """Scan the QR code (or type the secret), confirm with a code: then signed in, recovery codes shown."""
    user, pending = _pending_user(request)
    if user is None or otp.authenticator_of(user) is not None or not otp.may_self_enrol(user):
        request.session.pop(PENDING_KEY, None)
        messages.error(request, _("Sign in with your password first."))
        return redirect("workspace:login")
    device = otp.enrolment_device(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = otp.enrolment_confirm(user=user, device=device, code=form.cleaned_data["otp_token"],
                                      ip=client_ip(request))
        if codes is not None:
            request.session.pop(PENDING_KEY, None)
            sign_in_complete(request, user, backend=pending.get("backend"))
            request.session[FRESH_CODES_KEY] = codes
            return redirect(f"{reverse('recovery_codes')}?{urlencode({'next': pending.get('next') or ''})}")
        form.add_error("otp_token", _("The code is wrong. Enter the code your app shows now."))
    return render(request, "security/enrol.html", {
        "form": form, "qr_svg": _qr_svg(device), "secret": totp_secret(device), "otpauth_uri": device.config_url,
        "issuer": settings.OTP_TOTP_ISSUER, "username": user.get_username()})


@never_cache
@login_required(login_url="workspace:login")
@require_http_methods(["GET", "POST"])
def recovery_codes(request):
    """The recovery codes just made (once), or a new set on request; a new set needs a fresh code."""
    if request.method == "POST":
        if not _fresh(request):  # a stolen session must not buy itself a lasting second factor
            return redirect(f"{reverse('step_up')}?{urlencode({'next': reverse('recovery_codes')})}")
        request.session[FRESH_CODES_KEY] = otp.recovery_codes_create(user=request.user, ip=client_ip(request))
        return redirect("recovery_codes")
    codes = request.session.pop(FRESH_CODES_KEY, None)
    return render(request, "security/recovery_codes.html", {
        "codes": [otp.display_code(code) for code in codes or ()], "left": otp.recovery_codes_left(request.user),
        "next": safe_next(request, request.GET.get("next"), reverse("workspace:home"))})


def _fresh(request):
    verified_at = request.session.get(stepup.SESSION_KEY)
    return isinstance(verified_at, int | float) and time.time() - verified_at <= stepup.step_up_seconds()


@never_cache
@sensitive_post_parameters("otp_token")
@login_required(login_url="workspace:login")
@require_http_methods(["GET", "POST"])
def step_up(request):
    """Type the code of the moment again; back to ``next`` with a fresh second factor."""
    target = request.POST.get("next") or request.GET.get("next")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = otp.code_verify(user=request.user, code=form.cleaned_data["otp_token"])
        if device is not None:
            stepup.otp_mark(request)
            return redirect(safe_next(request, target, reverse("workspace:home")))
        otp.code_failed_log(user=request.user, request=request, where="step_up")
        form.add_error("otp_token", _("The code is wrong or was used already. Enter the current code."))
    return render(request, "security/step_up.html", {
        "form": form, "next": safe_next(request, target, ""), "enrolled": otp.authenticator_of(request.user) is not None})
