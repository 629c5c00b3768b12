from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "casemgmt.security"
    label = "security"
    verbose_name = _("security and privacy")

    def ready(self):
        from django.contrib import admin
        from django_otp.admin import OTPAdminSite

        from . import signals  # noqa: F401  (audit receivers for sign-in events)

        # A password alone reaches no admin page: the one admin site becomes django-otp's, whose
        # login form asks for the TOTP code and whose permission check needs a verified session.
        # Swapping the class keeps every registration and the site titles set on the instance.
        admin.site.__class__ = OTPAdminSite
        from .forms import AuditedOTPAdminAuthenticationForm

        admin.site.login_form = AuditedOTPAdminAuthenticationForm
