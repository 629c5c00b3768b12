"""Writing the audit trail: one call, used by services, the admin and the API."""
import functools
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from .models import AuditEvent


def _jsonable(data):
    if data is None:
        return None
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def audit_log(*, actor, event, obj=None, objects=(), family_id=None, region_path="", before=None, after=None,
              reason="", ip=None):
    """Record that ``actor`` did ``event`` (a dotted name such as ``families.checkin.recorded``)."""
    items = [obj] if obj is not None else list(objects)
    object_type, object_ids = (items[0]._meta.label_lower if items else ""), [item.pk for item in items]
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_role=getattr(actor, "role", "") or "",
        event=event,
        object_type=object_type,
        object_ids=object_ids,
        family_id=family_id,
        region_path=region_path,
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
        ip=ip,
    )


class _ReadRecord:
    """One INSERT of an audit row, written once: every API read records one (``record_read``), and
    creating it through a model instance and the ORM's insert compiler cost three times the
    statement. The values go through each field's own preparation, as ``save()`` does."""

    def __init__(self, using=DEFAULT_DB_ALIAS):
        self.using = using
        connection = connections[using]
        quote = connection.ops.quote_name
        self.fields = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
        self.sql = "INSERT INTO {} ({}) VALUES ({})".format(
            quote(AuditEvent._meta.db_table), ", ".join(quote(field.column) for field in self.fields),
            ", ".join(["%s"] * len(self.fields)))

    def __call__(self, values):
        connection = connections[self.using]
        params = [field.get_db_prep_save(values[field.attname] if field.attname in values else field.get_default(),
                                         connection) for field in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)


@functools.cache
def _read_record():
    return _ReadRecord()


def record_read(*, actor, event, model, ids, family_id=None, region_path="", after=None, ip=None):
    """``audit_log`` for a read of the rows ``ids`` of ``model``, without making an instance."""
    _read_record()({
        "at": timezone.now(),
        "actor_id": actor.pk if actor is not None and actor.is_authenticated else None,
        "actor_role": getattr(actor, "role", "") or "",
        "event": event,
        "object_type": model._meta.label_lower if ids else "",
        "object_ids": list(ids),
        "family_id": family_id,
        "region_path": region_path,
        "after": _jsonable(after),
        "ip": ip,
    })
