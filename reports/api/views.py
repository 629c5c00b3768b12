"""/api/v1/reports/…: the figures, trends, drill-downs, workbooks, list exports and imports.

Thin doors: every answer comes from ``reports.statistics`` / ``drilldown`` / ``exports`` /
``imports``, scoped to the caller there. Plain API views rather than model viewsets: a report is not
one model's rows, so ``reach.restrict`` is applied to each record set inside ``ReportScope``.
"""
from decimal import Decimal

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from casemgmt.api.parsers import JSONParser
from casemgmt.api.throttling import AnonThrottle, ImportThrottle
from casemgmt.api.viewsets import client_ip
from casemgmt.core.audit import audit_log
from casemgmt.security.stepup import step_up_ok

from .. import drilldown, exports, imports
from ..excel import XLSX, statistics_workbook
from ..import_kinds import TEMPLATES
from ..statistics import ReportScope, may_read_reports, statistics_compute, trends_compute


def plain(value):
    """Money as exact strings in JSON (DRF would turn a Decimal into a float)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def xlsx_response(data, filename):
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


SCOPE_PARAMETERS = [
    OpenApiParameter("region", str, description="Region code (the figures cover its whole subtree)."),
    OpenApiParameter("region_id", int, description="Region id, instead of the code."),
    OpenApiParameter("year", int, description="Year (default: the current year)."),
    OpenApiParameter("quarter", int, enum=[1, 2, 3, 4], description="Quarter of the year."),
    OpenApiParameter("month", int, description="Month of the year (1-12)."),
    OpenApiParameter("start", OpenApiTypes.DATE, description="Start of a custom range (with end)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="End of a custom range (with start)."),
]
WORKBOOK = {(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="An Excel workbook.")}
FIGURES = OpenApiResponse(OpenApiTypes.OBJECT, description="Figures keyed by name; money as decimal strings.")


class ReportReader(permissions.BasePermission):
    """Anonymous → 401; volunteers and auditors (no figures to see) → 403."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return may_read_reports(user)


class ReportView(APIView):
    permission_classes = [ReportReader]

    def scope(self, request):
        return ReportScope.from_params(request.user, request.query_params)


class StatisticsView(ReportView):
    @extend_schema(parameters=SCOPE_PARAMETERS, responses={200: FIGURES})
    def get(self, request):
        return Response(plain(statistics_compute(self.scope(request))))


class TrendsView(ReportView):
    @extend_schema(parameters=SCOPE_PARAMETERS, responses={200: FIGURES})
    def get(self, request):
        return Response(plain(trends_compute(self.scope(request))))


class DrilldownView(ReportView):
    @extend_schema(
        parameters=[*SCOPE_PARAMETERS, OpenApiParameter("page", int)],
        responses={200: inline_serializer("Drilldown", {
            "figure": serializers.CharField(), "count": serializers.IntegerField(),
            "page": serializers.IntegerField(), "pages": serializers.IntegerField(),
            "columns": serializers.ListField(child=serializers.DictField()),
            "results": serializers.ListField(child=serializers.DictField()),
        })},
    )
    def get(self, request, figure):
        if figure not in drilldown.FIGURES:
            raise Http404
        records = drilldown.drilldown_records(self.scope(request), figure, request.query_params)
        paginator = Paginator(records, 100)
        try:
            page = paginator.page(request.query_params.get("page", 1))
        except Exception:
            raise Http404 from None
        rows = drilldown.drilldown_rows(figure, page.object_list)
        audit_log(actor=request.user, event=f"reports.drilldown.{figure}", objects=list(page.object_list),
                  region_path=request.user.reach_path, ip=client_ip(request))
        return Response({
            "figure": figure, "count": paginator.count, "page": page.number, "pages": paginator.num_pages,
            "columns": [{"key": key, "heading": str(heading)} for key, heading in drilldown.drilldown_columns(figure)],
            "results": plain(rows),
        })


class WorkbookView(ReportView):
    @extend_schema(parameters=SCOPE_PARAMETERS, responses=WORKBOOK)
    def get(self, request):
        scope = self.scope(request)
        posting = exports.public_posting_table(actor=request.user, region=scope.region, ip=client_ip(request))
        data = statistics_workbook(statistics_compute(scope), trends_compute(scope), posting)
        return xlsx_response(data, f"statistics-{scope.period.label}.xlsx")


class UnmaskedExportSerializer(serializers.Serializer):
    # Optional here: the export service says why an unmasked list needs one (and who may not ask).
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ExportView(ReportView):
    """GET: the masked list. POST ``{"reason": "..."}``: the unmasked list, for entitled roles with a
    fresh second factor (a session's, or the ``X-OTP`` header's; 403 ``step_up_required`` without), audited."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def _export(self, request, unmasked, reason=""):
        kind = self.kwargs["kind"]
        if kind not in exports.TITLES:
            raise Http404
        region = ReportScope.from_params(request.user, request.query_params).region
        try:
            name, data = exports.list_export(
                actor=request.user, kind=kind, region=region, unmasked=unmasked, reason=reason,
                policy_id=request.query_params.get("policy"), ip=client_ip(request),
                stepped_up=unmasked and step_up_ok(request, exports.UNMASKED_ACT))
        except exports.StepUpRequired as exc:
            raise PermissionDenied(str(exc.args[0]), code="step_up_required") from None
        return xlsx_response(data, name)

    @extend_schema(parameters=SCOPE_PARAMETERS[:2] + [OpenApiParameter("policy", int)], responses=WORKBOOK)
    def get(self, request, kind):
        return self._export(request, unmasked=False)

    @extend_schema(
        parameters=SCOPE_PARAMETERS[:2] + [OpenApiParameter("policy", int)],
        request=UnmaskedExportSerializer,
        responses=WORKBOOK,
    )
    def post(self, request, kind):
        body = UnmaskedExportSerializer(data=request.data)  # a list or a number is a 400, not a crash
        body.is_valid(raise_exception=True)
        return self._export(request, unmasked=True, reason=body.validated_data.get("reason", ""))


class ImportTemplateView(ReportView):
    @extend_schema(responses=WORKBOOK)
    def get(self, request, kind):
        if kind not in TEMPLATES:
            raise Http404
        return xlsx_response(TEMPLATES[kind].template(), f"{kind}-template.xlsx")


class ImportView(ReportView):
    """POST a workbook as ``file``; ``commit=true`` imports it if it has no problem at all."""

    parser_classes = [MultiPartParser]
    throttle_classes = [ImportThrottle, AnonThrottle]

    @extend_schema(
        parameters=[OpenApiParameter("policy", int)],
        request={"multipart/form-data": inline_serializer("ImportUpload", {
            "file": serializers.FileField(), "commit": serializers.BooleanField(required=False),
            "policy": serializers.IntegerField(required=False),
        })},
        responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request, kind):
        template = TEMPLATES.get(kind)
        if template is None:
            raise Http404
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": [_("Upload an Excel workbook as “file”.")]})
        commit = str(request.data.get("commit", "")).lower() in ("1", "true", "yes")
        extra = {name: request.query_params.get(name) or request.data.get(name) for name in template.parameters}
        try:
            result = template.run(actor=request.user, upload=upload, commit=commit, **extra)
        except imports.ImportsPaused as exc:
            raise PermissionDenied(exc.args[0], code="imports_paused") from exc
        return Response(result.as_dict(), status=201 if result.committed else 200 if result.ok else 400)
