"""Base viewsets every app's API builds on. What a subclass gets by inheriting:

- deny by default: the queryset always passes through ``reach.restrict`` (or the viewset's
  ``selector(user=...)``), so a row outside the caller's reach answers 404; ``ScopedPermission`` decides
  which roles may read or write the model at all (401 anonymous, 403 wrong role);
- unsafe requests run in one transaction, rolled back when the answer is an error (no half writes);
- ETag on detail reads; PUT/PATCH need ``If-Match`` (428 without, 412 when stale), checked under a
  row lock, and bump the row's ``version``;
- ``Idempotency-Key`` on POST: the same user and key get the stored answer again;
- one audit row per read request (list, search, retrieve) with the ids it returned;
- a request-size limit and per-user throttling (settings).
"""
import hashlib
import json

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from casemgmt.core import privacy, reach
from casemgmt.core.audit import audit_log, family_of, page_read_recorded, read_recorded, record_read
from casemgmt.core.statements import rows_of
from casemgmt.security.network import client_ip  # the one client address (API views import it from here)

from .exceptions import Conflict, IdempotentReplay, PayloadTooLarge, PreconditionFailed, PreconditionRequired
from .models import IdempotencyRecord
from .permissions import ScopedPermission
from .serializers import RevealRequestSerializer, RevealResponseSerializer

IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="The ETag of the version you read; a stale one is refused with 412.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string; sending the same key again returns the first answer instead of writing twice.",
)


def _json(data):
    return json.loads(JSONRenderer().render(data).decode() or "null")


class ScopedViewSetMixin:
    """The behaviour listed in the module docstring; combine with DRF's mixins."""

    permission_classes = [ScopedPermission]
    # Callable (user) -> queryset already scoped to the user (an app's selector); defaults to restrict().
    selector = None
    # Audit every read of this resource (families and anything with personal data).
    audit_reads = True
    # Lookup from an object to the family id it belongs to, recorded on audit rows ("pk" for Family).
    audit_family_field = None
    # Extra per-action permission needs, e.g. {"reveal": "view"} (see permissions.ScopedPermission).
    action_perms = {}
    # Answers never kept for an Idempotency-Key replay: a reveal's plaintext must not rest in the
    # store, and each reveal is its own audited act.
    unreplayable_actions = ("reveal",)

    # ---- scoping ---------------------------------------------------------------------------------
    def get_queryset_model(self):
        return self.queryset.model

    def get_queryset(self):
        user = self.request.user
        if self.selector is not None:
            return type(self).selector(user=user)
        return reach.restrict(super().get_queryset(), user)

    def get_object(self, for_update=False):
        if for_update:
            self._for_update = True
        try:
            instance = super().get_object()
        finally:
            self._for_update = False
        # A catalogue defined above the caller's region is read and used here, changed only there.
        if self.request.method not in permissions.SAFE_METHODS and not reach.writable(self.request.user, instance):
            raise PermissionDenied(_("This record belongs to a region above yours: you may use it, "
                                     "but only that region may change it."))
        return instance

    def filter_queryset(self, queryset):
        # List filters and ordering mean nothing for one row by its id (reach is in get_queryset);
        # building the filter set for every detail read cost more than the query itself.
        if not getattr(self, "detail", False):
            queryset = super().filter_queryset(queryset)
        if getattr(self, "_for_update", False):
            queryset = queryset.select_for_update(of=("self",))
        return queryset

    # ---- request envelope ------------------------------------------------------------------------
    def dispatch(self, request, *args, **kwargs):
        with reach.grants_remembered():
            if request.method in permissions.SAFE_METHODS:
                return super().dispatch(request, *args, **kwargs)
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
            return response

    def initial(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or 0
        try:
            too_large = int(length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        except (TypeError, ValueError):
            too_large = False
        if too_large:
            raise PayloadTooLarge()
        # Rate limits are checked after the Idempotency-Key: a replayed answer costs no request, so a
        # client resending its backlog after a lost connection is not throttled for what went through.
        self._throttles_deferred = True
        super().initial(request, *args, **kwargs)
        self._throttles_deferred = False
        self._idempotency_record = None
        if (request.method == "POST" and request.headers.get("Idempotency-Key")
                and getattr(self, "action", None) not in self.unreplayable_actions):
            self._claim_idempotency_key(request, request.headers["Idempotency-Key"])
        self.check_throttles(request)

    def check_throttles(self, request):
        if not getattr(self, "_throttles_deferred", False):
            super().check_throttles(request)

    def _claim_idempotency_key(self, request, key):
        if len(key) > 200:
            raise ValidationError({"Idempotency-Key": [_("The key is longer than 200 characters.")]})
        digest = hashlib.sha256(request.method.encode() + request.path.encode() + b"\n" + request.body).hexdigest()
        try:
            with transaction.atomic():
                self._idempotency_record = IdempotencyRecord.objects.create(
                    user=request.user, key=key, method=request.method, path=request.path[:500], request_hash=digest,
                )
            return
        except IntegrityError:
            pass
        # Another request with this key committed first (a concurrent one waited for it above).
        record = IdempotencyRecord.objects.get(user=request.user, key=key)
        if record.request_hash != digest:
            raise Conflict(_("This Idempotency-Key was already used for a different request."),
                           code="idempotency_key_reused")
        if record.status_code is None:
            raise Conflict(_("A request with this Idempotency-Key is still being processed."),
                           code="idempotency_in_progress")
        raise IdempotentReplay(record)

    def handle_exception(self, exc):
        if isinstance(exc, IdempotentReplay):
            response = Response(exc.record.response, status=exc.record.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        record = getattr(self, "_idempotency_record", None)
        if record is not None and 200 <= response.status_code < 300:
            record.status_code = response.status_code
            record.response = _json(response.data)
            record.save(update_fields=["status_code", "response"])
        return super().finalize_response(request, response, *args, **kwargs)

    # ---- audited reads ---------------------------------------------------------------------------
    def audit_read(self, kind, objects):
        family_ids = {getattr(obj, self.audit_family_field) for obj in objects} if self.audit_family_field else set()
        single = objects[0] if len(objects) == 1 else None
        self.audit_read_rows(kind, [obj.pk for obj in objects], family_ids=family_ids,
                             region_path=getattr(single, "region_path", None))

    def _read_audit(self, kind):
        """What every audit row of a read records of the request: who, which event, the query (a
        search term masked: it may be an ID number) and the address."""
        model = self.get_queryset_model()
        params = {k: ("***" if k == "q" else v) for k, v in self.request.query_params.items()}
        return {"actor": self.request.user, "event": f"api.{model._meta.app_label}.{model._meta.model_name}.{kind}",
                "after": {"query": params} if params else None, "ip": client_ip(self.request)}

    def read_one_audited(self, queryset, kind="retrieve", statement=None, **columns):
        """The one row (a dict) of ``queryset``, a ``values()`` read with its ``id`` — read by the
        statement that writes its audit row (``core.audit.read_recorded``) — or 404. ``statement``:
        its ``(sql, params)`` if compiled already (``queryset`` then only names the model and the
        database); ``columns``: ``family_column`` and
        ``region_column``, the row's columns to record."""
        if not self.audit_reads:
            if statement is None:
                rows = list(queryset[:1])
            else:  # as read_recorded gives them: the columns as the database driver reads them
                rows = rows_of(*statement, queryset.db, limit=1)
            if not rows:
                raise NotFound()
            return rows[0]
        rows = read_recorded(queryset, fallback_region=getattr(self.request.user, "reach_path", ""),
                             statement=statement, **self._read_audit(kind), **columns)
        if not rows:
            raise NotFound()
        return rows[0]

    def read_page_audited(self, statement, *, shown, kind="list", **columns):
        """The rows (dicts) of a page read by ``statement`` — ``(sql, params)`` of rows with an
        ``id`` and a ``position`` — and the audit row of the ``shown`` first ones in the same
        statement (``core.audit.page_read_recorded``); ``columns``: ``family_column`` and
        ``region_column``, as ``audit_read_rows`` records them."""
        if not self.audit_reads:
            return rows_of(*statement, self.get_queryset_model().objects.db)
        return page_read_recorded(statement, model=self.get_queryset_model(), shown=shown,
                                  fallback_region=getattr(self.request.user, "reach_path", ""),
                                  **self._read_audit(kind), **columns)

    def audit_read_rows(self, kind, ids, *, family_ids=(), region_path=None):
        """The audit row of a read that returned the rows ``ids`` (of the families ``family_ids``);
        ``region_path``: the region of a single row read, else the reader's whole reach."""
        if not self.audit_reads:
            return
        family_ids = set(family_ids)
        # Auditors see events by region: a single row's own region, else the reader's whole reach.
        record_read(
            region_path=(region_path if len(ids) == 1 else None) or getattr(self.request.user, "reach_path", ""),
            model=self.get_queryset_model(),
            ids=ids,
            family_id=family_ids.pop() if len(family_ids) == 1 else None,
            **self._read_audit(kind),
        )

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        objects = list(page if page is not None else queryset)
        data = self.get_serializer(objects, many=True).data
        self.audit_read("search" if request.query_params.get("q") else "list", objects)
        if page is not None:
            return self.get_paginated_response(data)
        return Response(data)

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance)
        self.audit_read("retrieve", [instance])
        return Response(serializer.data, headers={"ETag": self.etag_for(instance, serializer.data)})

    # ---- optimistic concurrency ------------------------------------------------------------------
    def etag_for(self, instance, data=None):
        if hasattr(instance, "version"):
            return f'"{instance.version}"'
        if data is None:
            data = self.get_serializer(instance).data
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder).encode()).hexdigest()
        return f'"{digest[:32]}"'

    def check_if_match(self, instance):
        sent = self.request.headers.get("If-Match")
        if not sent:
            raise PreconditionRequired()
        current = self.etag_for(instance)
        candidates = {tag.strip().removeprefix("W/") for tag in sent.split(",")}
        if current not in candidates and "*" not in candidates:
            raise PreconditionFailed()

class RevealMixin:
    """``POST …/{id}/reveal/ {"names": [...], "reason": "..."}`` returns the plaintext of fields the
    privacy policy lets the caller reveal (``core.privacy.reveal``: the reason and the field names
    go to the audit trail, never the values). The answer is never stored for an Idempotency-Key
    replay: every reveal is its own audited act."""

    @extend_schema(request=RevealRequestSerializer, responses={200: RevealResponseSerializer})
    @action(detail=True, methods=["post"])
    def reveal(self, request, *args, **kwargs):
        model = self.get_queryset_model()
        governed = privacy.audited_fields(model, [f.name for f in model._meta.concrete_fields])
        # A role that may reveal nothing here learns nothing about the row either.
        if not any(privacy.may_reveal(request.user, model, name) for name in governed):
            raise PermissionDenied()
        instance = self.get_object()
        body = RevealRequestSerializer(data=request.data, context={"revealable": governed})
        body.is_valid(raise_exception=True)
        try:
            values = privacy.reveal(actor=request.user, obj=instance, names=body.validated_data["names"],
                                    reason=body.validated_data["reason"], surface="api", ip=client_ip(request))
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response({"values": {name: "" if value is None else str(value) for name, value in values.items()}},
                        status=status.HTTP_200_OK)

    reveal.required_perm = "view"  # reading rights suffice; the policy decides the rest


def answer_with(viewset, instance, code=status.HTTP_200_OK, serializer_class=None):
    """The answer of a workflow action: ``instance`` as the viewset's serializer (or ``serializer_class``) gives it."""
    serializer_class = serializer_class or viewset.get_serializer_class()
    return Response(serializer_class(instance, context=viewset.get_serializer_context()).data, status=code)


class AuditedWritesMixin:
    """Create, update and delete through a serializer (rows with no service of their own) each leave
    an audit row in the row's region and family, naming the fields written, never their values:
    a value may be sensitive, and the trail says which field changed, not what it now holds."""

    def creation_defaults(self):
        """Values the server sets on a new row (its owner, its reviewer)."""
        return {}

    def audit_write(self, verb, instance, fields=()):
        meta = instance._meta
        audit_log(actor=self.request.user, event=f"{meta.app_label}.{meta.model_name}.{verb}", obj=instance,
                  family_id=family_of(instance), after={"fields": sorted(fields)} if fields else None,
                  ip=client_ip(self.request))

    def perform_create(self, serializer):
        serializer.save(**self.creation_defaults())
        self.audit_write("created", serializer.instance, serializer.validated_data)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        self.audit_write("updated", serializer.instance, serializer.validated_data)

    def perform_destroy(self, instance):
        self.audit_write("deleted", instance)
        instance.delete()


class ConditionalUpdateMixin:
    """PUT/PATCH guarded by If-Match, checked under a row lock (see ScopedViewSetMixin.check_if_match)."""

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object(for_update=True)
        self.check_if_match(instance)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        instance = serializer.instance
        data = self.get_serializer(instance).data
        return Response(data, headers={"ETag": self.etag_for(instance, data)})

    def perform_update(self, serializer):
        instance = serializer.instance
        if hasattr(instance, "version"):
            # The row is locked, so bumping here cannot race; save() writes the new version.
            instance.version += 1
        serializer.save()


class ScopedReadOnlyModelViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ScopedModelViewSet(ScopedViewSetMixin, ConditionalUpdateMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                         mixins.UpdateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Create, read and update. Records with history are closed through services, not deleted;
    add ``mixins.DestroyModelMixin`` where deleting makes sense."""

    @extend_schema(parameters=[IDEMPOTENCY_KEY])
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    @extend_schema(parameters=[IF_MATCH])
    def update(self, request, *args, **kwargs):
        return super().update(request, *args, **kwargs)

    @extend_schema(parameters=[IF_MATCH])
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)
