"""Families API: declarative scoped viewsets; workflow steps are @actions calling families.services."""
import json

from django.db.models import Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from casemgmt.api.pagination import KeysetPagination
from casemgmt.api.renderers import JSONRenderer, RawJSON
from casemgmt.api.sqljson import projection_of
from casemgmt.api.viewsets import (
    IDEMPOTENCY_KEY,
    AuditedWritesMixin,
    RevealMixin,
    ScopedModelViewSet,
    ScopedReadOnlyModelViewSet,
    client_ip,
)
from casemgmt.core import privacy
from casemgmt.core.audit import audit_log
from casemgmt.core.reach import REGION_ROLES, can_use, compiled_in_reach
from casemgmt.core.statements import With, row_id

from .. import selectors, services
from ..models import (
    AnnualReview,
    Assessment,
    AssessmentScale,
    AssistanceEnrollment,
    CarePlan,
    CarePlanGoal,
    CareTask,
    CheckIn,
    ConsentRecord,
    ContactAssignment,
    Family,
    FamilyMember,
    FamilyTransfer,
)
from ..reminders import task_holder
from . import serializers as s
from .filters import CareTaskFilter, FamilyFilter


def _is_manager(user):
    return user.is_superuser or user.role in REGION_ROLES


class FamilyViewSet(ScopedModelViewSet):
    """Special families in the caller's reach. Status, risk and region change only through actions.

    The list is paged with ``cursor`` (follow ``next``), never counted: a caseload runs to 20,000
    families and a city to a million; ``?ordering=next_checkin_due`` gives a contact's worklist.
    List rows carry the members by name; their ID numbers (masked) and the family's contacts are
    on the family's own page."""

    queryset = Family.objects.all()
    pagination_class = KeysetPagination
    filterset_class = FamilyFilter
    ordering_fields = ["file_number", "next_checkin_due", "risk_level", "registered_on", "updated_at", "status"]
    ordering = ["file_number"]
    audit_family_field = "pk"

    def get_queryset(self):
        # A list leaves out the contacts and the members' ID numbers (FamilyListSerializer): no query
        # for the one, no decryption for the other.
        listing = self.action == "list"
        members = s.MemberListSerializer if listing else s.MemberBriefSerializer
        return selectors.family_cards(user=self.request.user, member_fields=members.Meta.fields, contacts=not listing)

    # ---- the hot reads, built by PostgreSQL ------------------------------------------------------
    def _projection(self):
        """This action's cards as the database builds them (casemgmt.api.sqljson: one statement per
        page, the same JSON as the serializer's), or None for a serializer with a field SQL cannot
        build."""
        return projection_of(self.get_serializer_class(), privacy.role_of(self.request.user),
                             make=self.get_serializer)

    # A first page asked with nothing but these (a worklist, a search) is read by a kept statement,
    # and so is a later page of a worklist.
    FIRST_PAGE_PARAMETERS = frozenset({"q", "ordering", "page_size"})
    LATER_PAGE_PARAMETERS = frozenset({"ordering", "page_size", "cursor"})

    def list(self, request, *args, **kwargs):
        projection = self._projection()
        if projection is None:
            return super().list(request, *args, **kwargs)
        if set(request.query_params) <= self.FIRST_PAGE_PARAMETERS:
            return self._first_page(request, projection)
        if set(request.query_params) <= self.LATER_PAGE_PARAMETERS and can_use(request.user, Family):
            response = self._later_page(request, projection)
            if response is not None:
                return response
        queryset = self.filter_queryset(selectors.families_in_reach(user=request.user))
        # The paginator reads its cursor columns from the rows; the card is everything else.
        columns = dict.fromkeys(["id", "region_path", *(key.name for key in self.paginator.ordering_keys(queryset))])

        def with_cards(page):
            # The page is found on its ordering columns alone, and only its rows are read for their
            # cards: a search walking thousands of index entries (family_search) reads no row of them.
            return list(Family.objects.filter(pk__in=page.values("pk")).order_by(*page.query.order_by)
                        .values(*columns, card=projection.text()))

        rows = self.paginator.paginate_queryset(queryset.values(*columns), request, view=self, fetch=with_cards)
        ids = [row["id"] for row in rows]
        self.audit_read_rows("search" if request.query_params.get("q") else "list", ids, family_ids=ids,
                             region_path=rows[0]["region_path"] if len(rows) == 1 else None)
        return self.get_paginated_response(self._cards(projection, rows))

    def _first_page(self, request, projection):
        """The first page of the caseload, a worklist or a search: the families, their cards and the
        audit row of reading them in one statement, which the ORM writes once per reach shape,
        search kind, ordering and page size (``compiled_in_reach``): a request binds its values only."""
        paginator = self.paginator
        ordering = OrderingFilter().get_ordering(request, Family.objects.none(), self)
        keys = paginator.ordering_keys(Family.objects.order_by(*ordering))
        order_by = paginator.order_by(keys)
        limit = paginator.get_page_size(request) + 1  # one more tells whether there is a next page
        terms = selectors.search_terms(q=request.query_params.get("q"))
        kind, values = terms or (None, {})
        walk_after = None
        if kind and kind not in selectors.EXACT_KINDS and [(key.name, key.descending) for key in keys] == [
                ("file_number", False)]:
            walk_after = selectors.walk_threshold_for(reader=request.user)
        columns = dict.fromkeys(["id", "region_path", *(key.name for key in keys)])

        def page(user, walk_after=None, **values):
            families, named = selectors.families_in_reach(user=user), {}
            if kind is None:
                ids = families.order_by(*order_by).values("pk")[:limit]
            else:
                ids, named = selectors.search_page(queryset=families, kind=kind, values=values, order_by=order_by,
                                                   limit=limit, walk_after=walk_after)
            cards = (selectors.families_by_id(ids=ids).order_by(*order_by)
                     .values(*columns, position=Window(RowNumber(), order_by=order_by), card=projection.text()))
            return With(cards, **named) if named else cards

        if not can_use(request.user, Family):  # restrict() gives no rows at all
            rows = []
            self.audit_read_rows("search" if kind else "list", [])
        else:
            # The walk threshold depends on the reader's region: bound, like the region, not kept apart.
            if walk_after is not None:
                values = {**values, "walk_after": walk_after}
            statement = compiled_in_reach.get(request.user, ("families.list", projection, tuple(keys), kind, limit),
                                              page, **values)
            rows = self.read_page_audited(statement, shown=limit - 1, kind="search" if kind else "list",
                                          family_column="id", region_column="region_path")
        rows = paginator.first_page(request, keys, rows)
        return self.get_paginated_response(self._cards(projection, rows))

    def _later_page(self, request, projection):
        """A later page of the caseload or a worklist (``?cursor=``): as ``_first_page``, the page
        and its audit row in one statement kept per reach shape, ordering, direction and stretch,
        the cursor's position bound like the reader's region. None when the position cannot be
        bound (``KeysetPagination.bindable``): the paginator reads that page."""
        paginator = self.paginator
        ordering = OrderingFilter().get_ordering(request, Family.objects.none(), self)
        forward = paginator.ordering_keys(Family.objects.order_by(*ordering))
        bindable = paginator.bindable(request, forward, Family)
        if bindable is None:
            return None
        reverse, keys, present, position = bindable
        order_by = paginator.order_by(keys)
        size = paginator.get_page_size(request)
        columns = dict.fromkeys(["id", "region_path", *(key.name for key in keys)])
        values = {f"at_{i}": value for i, value in enumerate(position)}
        rows = []
        # One statement; a second only when the page runs past the end of the cursor's stretch.
        for stretch in range(len(paginator.conditions(keys, present, position))):
            limit = size + 1 - len(rows)

            def page(user, stretch=stretch, limit=limit, **at):
                condition = paginator.conditions(keys, present, at.values())[stretch]
                ids = selectors.families_in_reach(user=user).filter(condition).order_by(*order_by).values("pk")[:limit]
                return (selectors.families_by_id(ids=ids).order_by(*order_by)
                        .values(*columns, position=Window(RowNumber(), order_by=order_by), card=projection.text()))

            statement = compiled_in_reach.get(
                request.user, ("families.later", projection, tuple(keys), present, stretch, limit), page, **values)
            rows += self.read_page_audited(statement, shown=min(limit, size - len(rows)), kind="list",
                                           family_column="id", region_column="region_path")
            if len(rows) > size:
                break
        rows = paginator.later_page(request, forward, rows, reverse=reverse)
        return self.get_paginated_response(self._cards(projection, rows))

    def _cards(self, projection, rows):
        """The rows' cards for the response: PostgreSQL's text as it is, when it is the card already
        and the answer is written by our JSON renderer; else parsed and finished."""
        if projection.final and isinstance(self.request.accepted_renderer, JSONRenderer):
            return RawJSON(f"[{','.join(row['card'] for row in rows)}]")
        return [projection.finish(json.loads(row["card"])) for row in rows]

    def retrieve(self, request, *args, **kwargs):
        projection = self._projection()
        if projection is None:
            return super().retrieve(request, *args, **kwargs)
        pk = row_id(Family, self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        if pk is None:  # not a number, or none a family could have
            raise NotFound()

        def page(user, pk):
            return selectors.families_in_reach(user=user).filter(pk=pk).values("id", "region_path", card=projection.text())

        if not can_use(request.user, Family):  # restrict() gives no rows at all
            raise NotFound()
        # Written by the ORM once per reach shape and projection, not on every request.
        statement = compiled_in_reach.get(request.user, ("families.retrieve", projection), page, pk=pk)
        # The card and the audit row of reading it: one statement.
        row = self.read_one_audited(Family.objects.all(), statement=statement, family_column="id",
                                    region_column="region_path")
        card = projection.finish(json.loads(row["card"]))
        return Response(card, headers={"ETag": f'"{card["version"]}"'})

    def get_serializer_class(self):
        if self.action in ("reassess_risk",):
            return s.ReassessRiskSerializer
        if self.action == "list":
            return s.FamilyListSerializer
        return s.FamilySerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.family_register(
            actor=self.request.user, region=data["region"], category=data["category"], file_number=data["file_number"],
            address=data.get("address", ""), residence=data.get("residence"), registered_on=data.get("registered_on"),
            notes=data.get("notes", ""),
        )

    def perform_update(self, serializer):
        family = serializer.instance
        fields = dict(serializer.validated_data)
        serializer.instance = services.family_update(actor=self.request.user, family=family,
                                                     expected_version=family.version, **fields)

    def _reload(self, family):
        return self.get_queryset().get(pk=family.pk)

    def _family_response(self, family, code=status.HTTP_200_OK):
        family = self._reload(family)
        data = s.FamilySerializer(family, context=self.get_serializer_context()).data
        return Response(data, status=code, headers={"ETag": self.etag_for(family, data)})

    @extend_schema(request=s.ReassessRiskSerializer, responses=s.FamilySerializer)
    @action(detail=True, methods=["post"], url_path="reassess-risk")
    def reassess_risk(self, request, pk=None):
        family = self.get_object()
        body = s.ReassessRiskSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.family_set_risk(actor=request.user, family=family, **body.validated_data)
        return self._family_response(family)

    @extend_schema(request=s.AssignRequestSerializer, responses=s.AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Make a staff member the family's contact of a kind; the previous contact is ended, not deleted."""
        if not _is_manager(request.user):
            raise PermissionDenied(_("Only a region manager assigns contacts."))
        family = self.get_object()
        body = s.AssignRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        assignment = services.assignment_set(actor=request.user, family=family, **body.validated_data)
        return Response(s.AssignmentSerializer(assignment).data, status=status.HTTP_200_OK)

    @extend_schema(request=s.CloseSerializer, responses=s.FamilySerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        family = self.get_object()
        body = s.CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.family_close(actor=request.user, family=family, **body.validated_data)
        return self._family_response(family)

    @extend_schema(request=s.ReopenSerializer, responses=s.FamilySerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        family = self.get_object()
        body = s.ReopenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.family_reopen(actor=request.user, family=family, **body.validated_data)
        return self._family_response(family)

    @extend_schema(request=s.TransferRequestSerializer, responses={201: s.TransferSerializer},
                   parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        """Ask to move the family to another region; the receiving region's manager accepts or rejects."""
        family = self.get_object()
        body = s.TransferRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        transfer = services.family_transfer_request(actor=request.user, family=family, **body.validated_data)
        return Response(s.TransferSerializer(transfer).data, status=status.HTTP_201_CREATED)

    # A family's whole history, a few dozen rows at most: one unpaginated list, as the schema says.
    @extend_schema(responses=s.StatusChangeSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], url_path="status-history", pagination_class=None)
    def status_history(self, request, pk=None):
        family = self.get_object()
        rows = selectors.status_history(user=request.user, family=family)
        self.audit_read("status_history", [family])
        return Response(s.StatusChangeSerializer(rows, many=True, context={"request": request}).data)

    # A family's whole history, a few dozen rows at most: one unpaginated list, as the schema says.
    @extend_schema(responses=s.RiskChangeSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], url_path="risk-history", pagination_class=None)
    def risk_history(self, request, pk=None):
        family = self.get_object()
        rows = selectors.risk_history(user=request.user, family=family)
        self.audit_read("risk_history", [family])
        return Response(s.RiskChangeSerializer(rows, many=True, context={"request": request}).data)


class MemberViewSet(RevealMixin, ScopedModelViewSet):
    queryset = FamilyMember.objects.all()
    selector = staticmethod(selectors.member_list)
    serializer_class = s.MemberSerializer
    filterset_fields = ["family", "relation", "is_deceased"]
    ordering_fields = ["name", "birth_date", "id"]
    ordering = ["family_id", "id"]
    audit_family_field = "family_id"

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        family = data.pop("family")
        serializer.instance = services.member_add(actor=self.request.user, family=family, **data)

    def perform_update(self, serializer):
        member = serializer.instance
        # The row is locked and its If-Match checked; the service bumps the version it read.
        serializer.instance = services.member_update(actor=self.request.user, member=member,
                                                     expected_version=member.version, **serializer.validated_data)


class AssignmentViewSet(ScopedReadOnlyModelViewSet):
    """Contact assignments with their history (change them with ``POST /families/{id}/assign/``)."""

    queryset = ContactAssignment.objects.all()
    selector = staticmethod(selectors.assignment_list)
    serializer_class = s.AssignmentSerializer
    filterset_fields = ["family", "kind", "user"]
    ordering_fields = ["started_on", "id"]
    ordering = ["family_id", "kind", "-started_on"]
    audit_family_field = "family_id"


class CheckInViewSet(RevealMixin, ScopedModelViewSet):
    """Contacts with families. Creating one moves the family's next due dates (``checkin_record``)."""

    queryset = CheckIn.objects.all()
    selector = staticmethod(selectors.checkin_list)
    serializer_class = s.CheckInSerializer
    filterset_fields = {"family": ["exact"], "channel": ["exact"], "occurred_at": ["gte", "lt"]}
    ordering_fields = ["occurred_at", "id"]
    ordering = ["-occurred_at", "-id"]
    audit_family_field = "family_id"

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        family = data.pop("family")
        serializer.instance = services.checkin_record(actor=self.request.user, family=family,
                                                      family_locked=getattr(family, "locked_for_update", False),
                                                      **data)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        audit_log(actor=self.request.user, event="families.checkin.updated", obj=serializer.instance,
                  family_id=serializer.instance.family_id, ip=client_ip(self.request),
                  after={k: v for k, v in serializer.validated_data.items() if k != "mental_notes"})


class AssessmentScaleViewSet(ScopedReadOnlyModelViewSet):
    queryset = AssessmentScale.objects.all()
    serializer_class = s.ScaleSerializer
    filterset_fields = ["is_active"]
    audit_reads = False  # reference data


class AssessmentViewSet(RevealMixin, ScopedModelViewSet):
    """Psychological assessments. Recording one sets the family's risk level from the score band."""

    queryset = Assessment.objects.all()
    selector = staticmethod(selectors.assessment_list)
    serializer_class = s.AssessmentSerializer
    filterset_fields = ["family", "scale", "member"]
    ordering_fields = ["assessed_at", "score", "id"]
    ordering = ["-assessed_at", "-id"]
    audit_family_field = "family_id"
    http_method_names = ["get", "post", "head", "options"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.assessment_record(actor=self.request.user, **data)


class CarePlanViewSet(AuditedWritesMixin, ScopedModelViewSet):
    queryset = CarePlan.objects.all()
    selector = staticmethod(selectors.careplan_list)
    serializer_class = s.CarePlanSerializer
    filterset_fields = ["family", "status", "owner"]
    ordering_fields = ["starts_on", "review_on", "id"]
    ordering = ["-starts_on", "-id"]

    def creation_defaults(self):
        return {"owner": self.request.user}


class CarePlanGoalViewSet(AuditedWritesMixin, ScopedModelViewSet):
    queryset = CarePlanGoal.objects.all()
    selector = staticmethod(selectors.goal_list)
    serializer_class = s.CarePlanGoalSerializer
    filterset_fields = ["plan", "status"]
    ordering = ["plan_id", "id"]
    audit_family_field = None



class CareTaskViewSet(AuditedWritesMixin, ScopedModelViewSet):
    queryset = CareTask.objects.all()
    selector = staticmethod(selectors.task_list)
    serializer_class = s.CareTaskSerializer
    filterset_class = CareTaskFilter
    ordering_fields = ["due_on", "id"]
    ordering = ["due_on", "id"]

    def get_queryset(self):
        # Who holds each task now, by the rule Today uses (``reminders.task_holder``); reads only: a
        # write locks its row, and the rule's outer join to the assignee cannot be locked with it.
        queryset = super().get_queryset()
        return queryset.annotate(holder=task_holder()) if self.request.method in SAFE_METHODS else queryset


class EnrollmentViewSet(AuditedWritesMixin, RevealMixin, ScopedModelViewSet):
    """Special-assistance enrolments (特别扶助)."""

    queryset = AssistanceEnrollment.objects.all()
    selector = staticmethod(selectors.enrollment_list)
    serializer_class = s.EnrollmentSerializer
    filterset_fields = ["family", "member", "status"]
    ordering_fields = ["applied_on", "id"]
    ordering = ["-applied_on", "-id"]

    def perform_create(self, serializer):
        instance = serializer.save(family=serializer.validated_data["member"].family)
        self.audit_write("created", instance, serializer.validated_data)


class AnnualReviewViewSet(AuditedWritesMixin, ScopedModelViewSet):
    """Yearly eligibility confirmations (年审)."""

    queryset = AnnualReview.objects.all()
    selector = staticmethod(selectors.review_list)
    serializer_class = s.AnnualReviewSerializer
    filterset_fields = ["enrollment", "year", "status"]
    ordering = ["-year", "enrollment_id"]
    audit_family_field = None


    def creation_defaults(self):
        return {"reviewer": self.request.user}


class ConsentViewSet(AuditedWritesMixin, ScopedModelViewSet):
    """Consent records (PIPL art. 29). They are never edited: withdraw and record a new one."""

    queryset = ConsentRecord.objects.all()
    selector = staticmethod(selectors.consent_list)
    serializer_class = s.ConsentSerializer
    filterset_fields = ["family", "member", "purpose", "given"]
    ordering = ["-recorded_at", "-id"]
    http_method_names = ["get", "post", "head", "options"]
    action_perms = {"withdraw": "add"}

    def creation_defaults(self):
        return {"recorded_by": self.request.user}

    @extend_schema(request=None, responses=s.ConsentSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        from django.utils import timezone

        consent = self.get_object(for_update=True)
        if consent.withdrawn_at is None:
            consent.withdrawn_at = timezone.now()
            consent.save(update_fields=["withdrawn_at"])
            self.audit_write("withdrawn", consent)
        return Response(s.ConsentSerializer(consent, context=self.get_serializer_context()).data)


class TransferViewSet(ScopedReadOnlyModelViewSet):
    """Transfers between regions; the receiving region's manager accepts or rejects."""

    queryset = FamilyTransfer.objects.all()
    selector = staticmethod(selectors.transfer_list)
    serializer_class = s.TransferSerializer
    filterset_fields = ["family", "status"]
    ordering = ["-requested_at"]
    audit_family_field = "family_id"

    def _decide(self, request, accept):
        if not _is_manager(request.user):
            raise PermissionDenied(_("Only a manager of the receiving region decides a transfer."))
        transfer = self.get_object()
        body = s.TransferDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        transfer = services.family_transfer_decide(actor=request.user, transfer=transfer, accept=accept,
                                                   note=body.validated_data["note"])
        return Response(s.TransferSerializer(transfer).data)

    @extend_schema(request=s.TransferDecisionSerializer, responses=s.TransferSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._decide(request, accept=True)

    @extend_schema(request=s.TransferDecisionSerializer, responses=s.TransferSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, accept=False)
