"""Creating notifications. Storage is deduplicated by a unique key in the database, so calling
``notify`` twice for the same reminder stores (and later sends) it once."""
from django.db import IntegrityError, transaction

from .models import Notification


def notify(*, recipient, kind, title, dedup_key, body="", level=Notification.Level.INFO, family=None, link=""):
    """Store a notification for ``recipient``; returns it, or ``None`` if it already existed."""
    try:
        with transaction.atomic():
            return Notification.objects.create(
                recipient=recipient, kind=kind, title=title, body=body, level=level, family=family,
                link=link, dedup_key=dedup_key,
            )
    except IntegrityError:
        if Notification.objects.filter(dedup_key=dedup_key).exists():
            return None
        raise
