"""Errors raised by services, translated to HTTP answers by the API and to messages by the admin."""
from django.utils.translation import gettext_lazy as _


class ConcurrentEditError(Exception):
    """The record changed since the caller read it; nothing was written."""

    message = _("This record was changed by someone else. Reload it and try again.")


class OutOfReachError(Exception):
    """The actor may not touch this record (answered like a missing record)."""
