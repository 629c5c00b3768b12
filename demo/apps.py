from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """Demo data for trying the system: it names every domain app, so it stands above them all."""

    name = "demo"
    verbose_name = _("Demo data")
