from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "casemgmt.security"
    label = "security"
    verbose_name = _("security and privacy")

    def ready(self):
        from django.contrib import admin
        from django_otp.plugins.otp_static.models import StaticDevice

        from . import signals  # noqa: F401  (audit receivers for sign-in events)
        from .admin_site import SecondFactorAdminSite

        # A password alone reaches no admin page: the one admin site becomes django-otp's (whose
        # permission check needs a verified session), signing in through the same form as the
        # workspace. Swapping the class keeps every registration and the site titles set on the instance.
        admin.site.__class__ = SecondFactorAdminSite
        # Recovery codes are the user's alone: django-otp's admin would show them to an administrator.
        if admin.site.is_registered(StaticDevice):
            admin.site.unregister(StaticDevice)
