from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "casemgmt.security"
    label = "security"
    verbose_name = _("security and privacy")

    def ready(self):
        from django.contrib import admin
        from django.db.models.signals import post_save
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from casemgmt.core import reach
        from casemgmt.core.models import Role

        from . import signals  # noqa: F401  (audit receivers for sign-in events)
        from .admin_site import SecondFactorAdminSite
        from .models import BreakGlassGrant

        reach.scopes_declare({
            # Emergency grants: administrators and region managers over the family, and its auditors.
            "security.breakglassgrant": reach.Scope(roles=frozenset({Role.AUDITOR}), region="family__region_path"),
            "security.enrolmentwindow": reach.Scope(roles=frozenset({Role.AUDITOR}), region="user__region__path"),
        })
        reach.family_ids_declare(granted=lambda user, now=None: BreakGlassGrant.objects.live(now).filter(user=user))
        post_save.connect(reach.grant_saved, sender=BreakGlassGrant, weak=False, dispatch_uid="reach-grant-memo")

        # A password alone reaches no admin page: the one admin site becomes django-otp's (whose
        # permission check needs a verified session), signing in through the same form as the
        # workspace. Swapping the class keeps every registration and the site titles set on the instance.
        admin.site.__class__ = SecondFactorAdminSite
        # Recovery codes and an authenticator's key are the user's alone: django-otp's admin would show
        # them (the key also as a QR code) to an administrator, who could then sign in as the user. A
        # lost phone is an enrolment window (security admin), which removes both.
        for device in (StaticDevice, TOTPDevice):
            if admin.site.is_registered(device):
                admin.site.unregister(device)
