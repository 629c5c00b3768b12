"""Writing the audit trail: one call, used by services, the admin and the API."""
import json

from django.core.serializers.json import DjangoJSONEncoder

from .models import AuditEvent


def _jsonable(data):
    if data is None:
        return None
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def audit_log(*, actor, event, obj=None, objects=(), model=None, ids=(), family_id=None, region_path="", before=None,
              after=None, reason="", ip=None):
    """Record that ``actor`` did ``event`` (a dotted name such as ``families.checkin.recorded``) to
    ``obj`` or ``objects``, or to the rows ``ids`` of ``model`` (a read that loaded no instances)."""
    items = [obj] if obj is not None else list(objects)
    if items:
        object_type, object_ids = items[0]._meta.label_lower, [item.pk for item in items]
    else:
        object_type, object_ids = (model._meta.label_lower if model is not None and ids else ""), list(ids)
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
