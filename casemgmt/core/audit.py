"""Writing the audit trail: one call, used by services, the admin and the API.

Every row carries a region, so that an auditor of that region sees it: its object's, else its
actor's. Before and after never hold the values of sensitive fields (``privacy.redact``)."""
import functools
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.sql import InsertQuery, UpdateQuery
from django.utils import timezone

from . import privacy, reach
from .models import AuditEvent, Region
from .statements import rows_of


def _jsonable(data):
    if data is None:
        return None
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _follow(obj, lookup):
    """The value at the end of a ``__`` lookup from ``obj`` (None when a step is missing)."""
    value = obj
    for step in lookup.split("__"):
        if value is None:
            return None
        if step == "pk":
            value = value.pk
            continue
        value = getattr(value, step, None)
    return value


def region_of(obj):
    """The region path of ``obj``: the one its reach is decided by (``reach.SCOPES``), else its own
    ``region_path`` or ``region``; None when it has none."""
    if obj is None:
        return None
    if isinstance(obj, Region):
        return obj.path
    scope = reach.scope_for(type(obj))
    if scope is not None and scope.region:
        path = _follow(obj, scope.region)
        if path:
            return path
    path = getattr(obj, "region_path", None)
    if path:
        return path
    region = getattr(obj, "region", None) if getattr(obj, "region_id", None) else None
    if isinstance(region, Region):
        return region.path
    family = getattr(obj, "family", None) if getattr(obj, "family_id", None) else None
    return getattr(family, "region_path", None) or None


def family_of(obj):
    """The id of the family ``obj`` belongs to (``reach.SCOPES``' family lookup), or None."""
    if obj is None:
        return None
    scope = reach.scope_for(type(obj))
    if scope is not None and scope.family:
        lookup = scope.family
        if lookup != reach.SELF and "__" not in lookup:
            return getattr(obj, f"{lookup}_id", None)
        value = _follow(obj, lookup)
        return getattr(value, "pk", value)
    return getattr(obj, "family_id", None)


def _region_for(region_path, obj, objects, actor):
    if region_path:
        return region_path
    for item in ([obj] if obj is not None else list(objects)[:1]):
        path = region_of(item)
        if path:
            return path
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor.reach_path
    return ""


def audit_log(*, actor, event, obj=None, objects=(), family_id=None, region_path=None, before=None, after=None,
              reason="", ip=None):
    """Record that ``actor`` did ``event`` (a dotted name such as ``families.checkin.recorded``).
    ``region_path``: default the object's region, else the actor's (``_region_for``)."""
    object_type, object_ids = _objects(obj, objects)
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_role=getattr(actor, "role", "") or "",
        event=event,
        object_type=object_type,
        object_ids=object_ids,
        family_id=family_id,
        region_path=_region_for(region_path, obj, objects, actor),
        before=_jsonable(privacy.redact(object_type, before)),
        after=_jsonable(privacy.redact(object_type, after)),
        reason=reason,
        ip=ip,
    )


def _objects(obj, objects):
    items = [obj] if obj is not None else list(objects)
    return (items[0]._meta.label_lower if items else ""), [item.pk for item in items]


def updated_and_logged(queryset, values, *, actor, event, obj=None, objects=(), family_id=None, region_path="",
                       before=None, after=None, reason="", ip=None):
    """``queryset.update(**values)`` and ``audit_log(...)`` of it in one statement (a data-modifying
    WITH): the change and its record are written together, in one round trip, which a write on the
    hot path (recording a check-in) spends on nothing else. Returns the number of rows updated."""
    connection = connections[queryset.db]
    try:
        update_sql, update_params = _update_sql(queryset, values)
    except ValueError:  # an update of several tables: the two statements
        update_sql = None
    if update_sql is None:
        with transaction.atomic(using=queryset.db, savepoint=False):
            rows = queryset.update(**values)
            audit_log(actor=actor, event=event, obj=obj, objects=objects, family_id=family_id,
                      region_path=region_path, before=before, after=after, reason=reason, ip=ip)
        return rows
    object_type, object_ids = _objects(obj, objects)
    record = _record_for(queryset.db)
    region_path = _region_for(region_path, obj, objects, actor)
    audit_params = record.params(_row_values(actor=actor, event=event, object_type=object_type, ids=object_ids,
                                             family_id=family_id, region_path=region_path, before=before,
                                             after=after, reason=reason, ip=ip))
    with transaction.mark_for_rollback_on_error(using=queryset.db), connection.cursor() as cursor:
        cursor.execute(f"WITH changed AS ({update_sql} RETURNING 1) {record.sql} RETURNING (SELECT count(*) FROM changed)",
                       [*update_params, *audit_params])
        return cursor.fetchone()[0]


def saved_and_logged(instance, update=None, *, actor, event, family_id=None, region_path="", before=None, after=None,
                     reason="", ip=None):
    """A new ``instance`` saved, ``update`` — ``(queryset, values)`` for ``queryset.update(**values)``
    — run, and the audit row of ``instance``, in one statement (data-modifying WITH). Model signals
    are not sent: for models that have none. An instance already saved, or of a model with parents
    (two tables to insert into), takes the three statements.

    For a check-in, the hot write, that is one round trip instead of three. Triggers on the tables
    fire once, after the whole statement: use it only where they do not depend on the order."""
    using = instance._state.db or DEFAULT_DB_ALIAS
    connection = connections[using]
    meta = instance._meta
    if instance.pk is not None or meta.parents:
        with transaction.atomic(using=using, savepoint=False):
            instance.save(using=using)
            if update is not None:
                update[0].update(**update[1])
            audit_log(actor=actor, event=event, obj=instance, family_id=family_id, region_path=region_path,
                      before=before, after=after, reason=reason, ip=ip)
        return instance
    fields = [field for field in meta.local_concrete_fields if not field.generated and field is not meta.auto_field]
    insert = InsertQuery(type(instance))
    insert.insert_values(fields, [instance])
    compiler = insert.get_compiler(using)
    compiler.returning_fields = [meta.pk]
    [(insert_sql, insert_params)] = compiler.as_sql()
    statements, params = [f"inserted AS ({insert_sql})"], list(insert_params)
    if update is not None:
        update_sql, update_params = _update_sql(*update)
        statements.append(f"changed AS ({update_sql})")
        params += update_params
    record = _record_for(using)
    values = _row_values(actor=actor, event=event, object_type=meta.label_lower, ids=[], family_id=family_id,
                         region_path=_region_for(region_path, instance, (), actor), before=before, after=after,
                         reason=reason, ip=ip)
    pk = connection.ops.quote_name(meta.pk.column)
    audit_sql, audit_params = record.from_rows("inserted", values, {"object_ids": f"jsonb_build_array(inserted.{pk})"})
    statements.append(f"audit AS ({audit_sql})")
    with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(statements)} SELECT {pk} FROM inserted", [*params, *audit_params])
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = using
    return instance


def _update_sql(queryset, values):
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    query.clear_select_clause()
    if query.get_related_updates():
        raise ValueError("an update of one table only")
    return query.get_compiler(queryset.db).as_sql()


class _ReadRecord:
    """One INSERT of an audit row, written once: every API read records one (``record_read``), and
    creating it through a model instance and the ORM's insert compiler cost three times the
    statement. The values go through each field's own preparation, as ``save()`` does."""

    def __init__(self, using=DEFAULT_DB_ALIAS):
        self.using = using
        connection = connections[using]
        quote = connection.ops.quote_name
        self.fields = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
        self.insert_into = "INSERT INTO {} ({})".format(
            quote(AuditEvent._meta.db_table), ", ".join(quote(field.column) for field in self.fields))
        self.sql = "{} VALUES ({})".format(self.insert_into, ", ".join(["%s"] * len(self.fields)))

    def _prepared(self, field, values):
        value = values[field.attname] if field.attname in values else field.get_default()
        return field.get_db_prep_save(value, connections[self.using])

    def params(self, values):
        return [self._prepared(field, values) for field in self.fields]

    def __call__(self, values):
        with connections[self.using].cursor() as cursor:
            cursor.execute(self.sql, self.params(values))

    def along(self, select_sql, select_params, values, *, family_column=None, region_column=None):
        """``select_sql`` (a read of at most one row, with an ``id`` column) and the INSERT of its
        audit row as one statement: a data-modifying CTE, so the row read and the record of reading
        it are written together or not at all; no row read, no audit row (the read answers 404).
        Returns the statement and its parameters; its rows are those of ``select_sql``."""
        quote = connections[self.using].ops.quote_name
        columns = {"object_ids": "jsonb_agg(read.id)"}
        if family_column:
            columns["family_id"] = f"min(read.{quote(family_column)})"
        if region_column:  # the row's own region, else the given one
            columns["region_path"] = f"coalesce(nullif(min(read.{quote(region_column)}), ''), %s)"
        insert, params = self.from_rows("read", values, columns)
        sql = f"WITH read AS ({select_sql}), audit AS ({insert} HAVING count(*) > 0) SELECT * FROM read"
        return sql, [*select_params, *params]

    def along_page(self, select_sql, select_params, values, *, shown, family_column=None, region_column=None):
        """``select_sql`` (a page of rows with an ``id`` and a ``position`` column, 1, 2, …) and the
        INSERT of the audit row of its first ``shown`` rows (the others only tell that there is
        more) as one statement. The row is written whatever was found, an empty search included:
        the ids in their order; the family and the region when there is one row, else the given
        region. Its rows are those of ``select_sql``, in their order."""
        quote = connections[self.using].ops.quote_name
        columns = {"object_type": "CASE WHEN count(*) > 0 THEN %s ELSE '' END",
                   "object_ids": "coalesce(jsonb_agg(shown.id ORDER BY shown.position), '[]')"}
        if family_column:
            family = f"shown.{quote(family_column)}"
            columns["family_id"] = f"CASE WHEN count(DISTINCT {family}) = 1 THEN min({family}) END"
        if region_column:
            columns["region_path"] = (f"coalesce(CASE WHEN count(*) = 1 THEN nullif(min(shown.{quote(region_column)}), '')"
                                      " END, %s)")
        insert, params = self.from_rows(f"(SELECT * FROM page WHERE page.position <= {int(shown)}) AS shown", values,
                                        columns)
        sql = f"WITH page AS ({select_sql}), audit AS ({insert}) SELECT * FROM page ORDER BY page.position"
        return sql, [*select_params, *params]

    def from_rows(self, source, values, columns):
        """``INSERT … SELECT … FROM source`` of the audit row: ``columns`` maps a field to SQL over
        ``source`` (with at most one ``%s``, which takes the field's value); the other fields are
        parameters. Returns the statement and its parameters."""
        expressions, params = [], []
        for field in self.fields:
            expression = columns.get(field.attname, "%s")
            expressions.append(expression)
            if "%s" in expression:
                params.append(self._prepared(field, values))
        return f"{self.insert_into} SELECT {', '.join(expressions)} FROM {source}", params


@functools.cache
def _read_record():
    return _ReadRecord()


def _record_for(using):
    return _read_record() if using == DEFAULT_DB_ALIAS else _ReadRecord(using)


def _row_values(*, actor, event, object_type, ids, family_id, region_path, after, ip, before=None, reason=""):
    """The columns of an audit row as ``audit_log`` fills them."""
    return {
        "at": timezone.now(),
        "actor_id": actor.pk if actor is not None and actor.is_authenticated else None,
        "actor_role": getattr(actor, "role", "") or "",
        "event": event,
        "object_type": object_type,
        "object_ids": list(ids),
        "family_id": family_id,
        "region_path": region_path or (actor.reach_path if actor is not None and actor.is_authenticated else ""),
        "before": _jsonable(privacy.redact(object_type, before)),
        "after": _jsonable(privacy.redact(object_type, after)),
        "reason": reason,
        "ip": ip,
    }


def _read_values(*, actor, event, model, ids, family_id, region_path, after, ip):
    return _row_values(actor=actor, event=event, object_type=model._meta.label_lower if ids else "", ids=ids,
                       family_id=family_id, region_path=region_path, after=after, ip=ip)


def record_read(*, actor, event, model, ids, family_id=None, region_path="", after=None, ip=None):
    """``audit_log`` for a read of the rows ``ids`` of ``model``, without making an instance."""
    _read_record()(_read_values(actor=actor, event=event, model=model, ids=ids, family_id=family_id,
                                region_path=region_path, after=after, ip=ip))


def read_recorded(queryset, *, actor, event, family_column=None, region_column=None, fallback_region="", after=None,
                  ip=None, statement=None):
    """The rows (dicts) of ``queryset`` — a ``values()`` read of one row at most, with its ``id`` —
    read by the same statement that writes their audit row (``_ReadRecord.along``): what
    ``record_read`` records, the object's region, or ``fallback_region`` when it has none.
    ``statement``: the queryset's ``(sql, params)``, when the caller has them already compiled."""
    record = _read_record()
    select_sql, select_params = statement or queryset.query.sql_with_params()
    # ids: a placeholder (the statement records the row's own id), so that the object type is set.
    values = _read_values(actor=actor, event=event, model=queryset.model, ids=[None], family_id=None,
                          region_path=fallback_region, after=after, ip=ip)
    sql, params = record.along(select_sql, select_params, values, family_column=family_column,
                               region_column=region_column)
    return rows_of(sql, params, record.using)


def page_read_recorded(statement, *, model, shown, actor, event, family_column=None, region_column=None,
                       fallback_region="", after=None, ip=None):
    """The rows (dicts) of a page read by ``statement`` — ``(sql, params)`` of rows of ``model`` with
    an ``id`` and a ``position`` — read by the same statement that writes the audit row of the
    ``shown`` rows the reader sees (``_ReadRecord.along_page``): what ``record_read`` records."""
    record = _read_record()
    values = _read_values(actor=actor, event=event, model=model, ids=[None], family_id=None,
                          region_path=fallback_region, after=after, ip=ip)
    sql, params = record.along_page(*statement, values, shown=shown, family_column=family_column,
                                    region_column=region_column)
    return rows_of(sql, params, record.using)
