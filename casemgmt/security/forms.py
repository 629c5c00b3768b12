"""The one sign-in form, used by the workspace (``/login/``) and the admin: username, password and
the code of the user's authenticator (or a recovery code) in one step.

The user has one authenticator, so no device is chosen. A user who needs a second factor and has
none yet passes with the password alone only as far as the enrolment page (``needs_enrolment``).
A code that was given and is wrong leaves an ``auth.otp_failed`` row; a code not yet typed does not.
"""
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from . import otp


class SignInForm(AuthenticationForm):
    otp_token = forms.CharField(
        label=_("Code from your authenticator"), required=False, max_length=32, strip=True,
        help_text=_("The 6-digit code your authenticator app shows, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "autocapitalize": "off", "spellcheck": "false"}))

    error_messages = {
        **AuthenticationForm.error_messages,
        "otp_required": _("Enter the code from your authenticator app."),
        "otp_invalid": _("The code is wrong or was used already. Enter the current code."),
        "enrolment_closed": _("Your account has no authenticator. Ask an administrator to let you enrol one."),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.needs_enrolment = False
        self.fields["username"].label = _("Username")
        self.fields["password"].label = _("Password")

    def clean(self):
        cleaned = super().clean()  # the password: authenticate(), with the lockout in front of it
        user = self.user_cache
        if user is None or not otp.second_factor_required(user):
            return cleaned
        if otp.authenticator_of(user) is None:
            if not otp.may_self_enrol(user):
                otp.enrolment_refused_log(user=user, request=self.request)
                raise forms.ValidationError(self.error_messages["enrolment_closed"], code="enrolment_closed")
            self.needs_enrolment = True  # the view sends the user to enrol, still signed out
            return cleaned
        code = cleaned.get("otp_token") or ""
        if not code:
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        device = otp.code_verify(user=user, code=code)
        if device is None:
            otp.code_failed_log(user=user, request=self.request, where="sign_in")
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        user.otp_device = device  # django_otp.login() keeps it in the session at auth.login()
        return cleaned


class AdminSignInForm(SignInForm):
    """The same form on the admin's login page, which admits staff only."""

    error_messages = {**SignInForm.error_messages, **AdminAuthenticationForm.error_messages}
    required_css_class = "required"

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login",
                                        params={"username": self.username_field.verbose_name})


class CodeForm(forms.Form):
    """A code alone: the step-up page and the enrolment page."""

    otp_token = SignInForm.base_fields["otp_token"]
