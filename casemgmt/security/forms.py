"""The admin login form: django-otp's, plus an audit row when the second factor is refused."""
from django.core.exceptions import ValidationError
from django_otp.admin import OTPAdminAuthenticationForm

from casemgmt.core.audit import audit_log


class AuditedOTPAdminAuthenticationForm(OTPAdminAuthenticationForm):
    def clean_otp(self, user):
        try:
            super().clean_otp(user)
        except ValidationError as exc:
            # The password was right and the code was not (missing, wrong or replayed): auditors
            # look for exactly this pattern after a password leak.
            request = self.request
            audit_log(actor=user, event="auth.otp_failed", obj=user,
                      ip=(request.META.get("REMOTE_ADDR") or None) if request is not None else None,
                      after={"code": exc.code or "invalid"})
            raise
