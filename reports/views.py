"""Report pages: the figures with server-drawn SVG charts, drill-downs, the printable annual summary,
the workbook, list exports and imports. Thin doors into the same services as the API."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from casemgmt.core import privacy
from casemgmt.core.audit import audit_log
from casemgmt.core.errors import OutOfReachError
from casemgmt.security.stepup import step_up_ok

from . import drilldown, exports, imports
from .api.views import xlsx_response
from .charts import bar_chart, column_chart
from .excel import statistics_workbook
from .import_kinds import TEMPLATES
from .statistics import REGIONAL_FIGURES, ReportScope, may_read_reports, regional_totals, statistics_compute, trends_compute

PERIOD_KEYS = ("region", "year", "quarter", "month", "start", "end")


def report_view(view):
    """Signed in (else the login page), a role that reads reports (else 403), the region in reach (else 404)."""
    @login_required
    def wrapped(request, *args, **kwargs):
        if not may_read_reports(request.user):
            raise PermissionDenied
        try:
            return view(request, *args, **kwargs)
        except OutOfReachError:
            raise Http404 from None
        except ValidationError as exc:
            return render(request, "reports/error.html", {"messages_": exc.messages}, status=400)
    wrapped.__name__ = view.__name__
    return wrapped


def _query(request):
    return urlencode({k: request.GET[k] for k in PERIOD_KEYS if request.GET.get(k)})


def _regional(figures, trends):
    """The by-region table of every figure: headings, one row per sub-region, the totals."""
    totals = regional_totals(figures)
    return {
        "headings": [heading for _key, heading, _total in REGIONAL_FIGURES],
        "rows": [(row["name"], [row[key] for key, _heading, _total in REGIONAL_FIGURES]) for row in trends["by_region"]],
        "totals": [totals[key] for key, _heading, _total in REGIONAL_FIGURES],
    }


def _charts(figures, trends):
    return [
        bar_chart(_("Service sites by kind"), [(r["label"], r["count"]) for r in figures["sites"]["by_kind"]]),
        bar_chart(_("Activity participants by category"),
                  [(r["label"], r["participants"]) for r in figures["activities"]["by_category"]]),
        bar_chart(_("Families by category"), [(r["label"], r["count"]) for r in figures["families"]["by_category"]]),
        bar_chart(_("Families by risk level"), [(r["label"], r["count"]) for r in figures["families"]["by_risk"]]),
        column_chart(_("Consolation amount by month (CNY)"),
                     [(r["month"][5:], r["consolation_amount"]) for r in trends["by_month"]]),
        column_chart(_("Activity participants by month"), [(r["month"][5:], r["participants"]) for r in trends["by_month"]]),
        bar_chart(_("Families by sub-region"), [(r["name"], r["families"]) for r in trends["by_region"]]),
        bar_chart(_("Consolation amount by sub-region (CNY)"),
                  [(r["name"], r["consolation_cash"] + r["consolation_goods"]) for r in trends["by_region"]]),
    ]


@report_view
def index(request):
    scope = ReportScope.from_params(request.user, request.GET)
    figures, trends = statistics_compute(scope), trends_compute(scope)
    return render(request, "reports/index.html", {
        "figures": figures, "trends": trends, "charts": _charts(figures, trends), "query": _query(request),
        "regional": _regional(figures, trends),
        "params": request.GET, "may_unmask": privacy.may_export_unmasked(request.user),
        "import_templates": TEMPLATES.values(),
    })


@report_view
def annual(request):
    scope = ReportScope.from_params(request.user, request.GET)
    figures, trends = statistics_compute(scope), trends_compute(scope)
    return render(request, "reports/annual.html", {"figures": figures, "trends": trends, "charts": _charts(figures, trends),
                                                   "regional": _regional(figures, trends)})


@report_view
def drilldown_page(request, figure):
    if figure not in drilldown.FIGURES:
        raise Http404
    records = drilldown.drilldown_records(ReportScope.from_params(request.user, request.GET), figure, request.GET)
    page = Paginator(records, 100).get_page(request.GET.get("page"))
    audit_log(actor=request.user, event=f"reports.drilldown.{figure}", objects=list(page.object_list),
              region_path=request.user.reach_path)
    return render(request, "reports/drilldown.html", {
        "figure": figure, "title": drilldown.FIGURES[figure].title, "page": page,
        "columns": [heading for _key, heading in drilldown.drilldown_columns(figure)],
        "rows": [list(row.values()) for row in drilldown.drilldown_rows(figure, page.object_list)],
        "query": _query(request),
    })


@report_view
def workbook(request):
    scope = ReportScope.from_params(request.user, request.GET)
    posting = exports.public_posting_table(actor=request.user, region=scope.region, ip=request.META.get("REMOTE_ADDR"))
    return xlsx_response(statistics_workbook(statistics_compute(scope), trends_compute(scope), posting),
                         f"statistics-{scope.period.label}.xlsx")


@report_view
@require_http_methods(["GET", "POST"])
def export(request, kind):
    if kind not in exports.TITLES:
        raise Http404
    region = ReportScope.from_params(request.user, request.GET).region
    unmasked = request.method == "POST"
    try:
        name, data = exports.list_export(actor=request.user, kind=kind, region=region, unmasked=unmasked,
                                         reason=request.POST.get("reason", ""), policy_id=request.GET.get("policy"),
                                         ip=request.META.get("REMOTE_ADDR"),
                                         stepped_up=unmasked and step_up_ok(request, exports.UNMASKED_ACT))
    except exports.StepUpRequired:
        return _to_step_up(request)
    return xlsx_response(data, name)


def _to_step_up(request):
    """The step-up page, coming back to the reports page (the export form) once the code is entered."""
    back = reverse("reports:index") + (f"?{_query(request)}" if _query(request) else "")
    return redirect(f"{reverse('step_up')}?{urlencode({'next': back})}")


def _template(kind):
    template = TEMPLATES.get(kind)
    if template is None:
        raise Http404
    return template


@report_view
def import_template(request, kind):
    return xlsx_response(_template(kind).template(), f"{kind}-template.xlsx")


@report_view
@require_http_methods(["GET", "POST"])
def import_page(request, kind):
    """Upload, see every problem (nothing written); a file without problems is imported with “Import”."""
    template = _template(kind)
    result, error, status = None, "", None
    if request.method == "POST" and request.FILES.get("file"):
        extra = {name: request.POST.get(name) for name in template.parameters}
        try:
            result = template.run(actor=request.user, upload=request.FILES["file"], commit="import" in request.POST,
                                  **extra)
        except imports.ImportFileError as exc:
            error = exc.messages[0]
        except imports.ImportsPaused as exc:
            error, status = exc.args[0], 403
    labels = {"families": _("families"), "members": _("family members"), "volunteers": _("volunteers"),
              "insured": _("insured people")}
    written = [(labels.get(what, what), n) for what, n in result.created.items()] if result and result.committed else []
    return render(request, "reports/import.html", {
        "kind": kind, "title": template.title, "records": template not in imports.PEOPLE_TEMPLATES, "result": result,
        "error": error, "written": written,
        "template_url": reverse("reports:import-template", args=[kind]),
    }, status=status or (400 if (error or (result and not result.ok)) else 200))
