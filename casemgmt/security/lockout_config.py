"""django-axes (the sign-in lockout, ``casemgmt.security.lockout``) installed under a name in the
reader's language: its own app config has none, so the admin would list its records under "Axes".
Kept out of ``apps.py``, where a second app config would stop Django choosing the security app's."""
from axes.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AppConfig):
    verbose_name = _("Sign-in lockout")
