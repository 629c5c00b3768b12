"""Pages of the workspace: thin doors to the selectors (reads, already scoped) and services (writes).
A family, session or region outside the user's reach answers 404, never a hint that it exists."""
import calendar as month_calendar
import csv
import datetime
import functools
import hashlib
import json

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casemgmt.api.viewsets import client_ip
from casemgmt.core import privacy
from casemgmt.core.audit import audit_log
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import AuditEvent, Region, Role
from casemgmt.core.notifications import notifications_mark_read
from casemgmt.core.reach import can_use, region_within_reach, restrict
from casemgmt.security.views import SignInView
from families.models import Family, FamilyMember
from volunteers import selectors as volunteer_selectors
from volunteers import services as volunteer_services
from volunteers.models import Enrollment, Pairing, Skill, Volunteer

from . import ical, selectors, services
from .forms import (
    CALL_REASON,
    AuditFilterForm,
    CheckinForm,
    FamilyFilterForm,
    RevealForm,
    ServiceHoursForm,
    SessionForm,
    SkillFilterForm,
)

CASEWORK = (Role.SOCIAL_WORKER, Role.CONTACT_PERSON, Role.REGION_MANAGER, Role.ADMIN)
COORDINATION = (Role.VOLUNTEER_COORDINATOR, Role.REGION_MANAGER, Role.ADMIN)
FAMILY_READERS = CASEWORK + (Role.VOLUNTEER_COORDINATOR,)
MANAGERS = (Role.REGION_MANAGER, Role.ADMIN)

CHECKIN = (Role.SOCIAL_WORKER, Role.CONTACT_PERSON, *MANAGERS)

login = functools.partial(login_required, login_url="workspace:login")


def _may(user, allowed):
    """Whether ``user`` may use the pages of ``allowed`` roles: the same test for a page and its link."""
    return user.is_superuser or user.role in allowed


def roles(*allowed):
    """Only these roles (and superusers) may open the page; everybody else gets 403."""
    def decorator(view):
        @functools.wraps(view)
        @login
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not _may(user, allowed):
                raise PermissionDenied()
            return view(request, *args, **kwargs)
        return wrapped
    return decorator


def _errors(request, exc):
    for message in exc.messages:
        messages.error(request, message)


def _is_htmx(request):
    return request.headers.get("HX-Request") == "true"


class LoginView(SignInView):
    """The one sign-in form (password and second factor, casemgmt.security) in the workspace's look."""

    template_name = "workspace/login.html"


@login
def home(request):
    role = request.user.role
    if role == Role.VOLUNTEER:
        return redirect("workspace:me")
    if role == Role.AUDITOR:
        return redirect("workspace:audit")
    if role == Role.VOLUNTEER_COORDINATOR:
        return redirect("workspace:trainings")
    if role in MANAGERS or request.user.is_superuser:
        return redirect("workspace:coverage")
    return redirect("workspace:today")


# --- social workers and contact persons --------------------------------------------------------

@login
def today(request):
    if request.user.role == Role.AUDITOR:
        return redirect("workspace:audit")  # an auditor has no caseload: their day is the trail
    worklist = selectors.today_worklist(user=request.user)
    notifications, unread = selectors.unread_notifications(user=request.user)
    response = render(request, "workspace/today.html", {
        **worklist, "notifications": notifications, "unread": unread, "today": timezone.localdate(),
        "call_reason": CALL_REASON,
        "suffix_search": privacy.searchable_by_suffix(request.user, FamilyMember, "id_number"),
    })
    worklist["fields"].record(ip=client_ip(request))
    return response


@require_POST
@login
def notifications_read(request):
    notifications_mark_read(actor=request.user)
    # Back to the page the form was on, and only ever to a page of this site.
    target = request.POST.get("next")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = reverse("workspace:today")
    return redirect(target)


def _region_in_reach_or_404(user, code):
    region = Region.objects.filter(code=Region.normalize_code(code)).first() if code.isdigit() else None
    if region is None or not region_within_reach(user, region.path):
        raise Http404()
    return region


@roles(*FAMILY_READERS)
def family_search(request):
    """Search, and the families behind a count of the coverage page (``FamilyFilterForm``)."""
    q = request.GET.get("q", "").strip()
    families = selectors.family_search(user=request.user, q=q)
    form = FamilyFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "workspace/families.html", {"q": q, "filter_errors": form.errors}, status=400)
    data = form.cleaned_data
    region = _region_in_reach_or_404(request.user, data["region"]) if data["region"] else None
    filtered = any(value not in (None, "", False) for value in data.values())
    families = selectors.family_filter(
        families, user=request.user, region=region, open=data["open"], contacted=data["contacted"],
        overdue=data["overdue"], risk=data["risk"], contact=data["contact"], unassigned=data["unassigned"],
    ).order_by("next_checkin_due", "id")
    page = Paginator(families, 30).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "workspace/partials/family_results.html" if _is_htmx(request) else "workspace/families.html"
    return render(request, template, {
        "q": q, "page": page, "today": timezone.localdate(), "query": query.urlencode(), "filtered": filtered,
        "region": region, "suffix_search": privacy.searchable_by_suffix(request.user, FamilyMember, "id_number"),
    })


def _family_or_404(request, pk):
    try:
        return selectors.family_get(user=request.user, pk=pk)
    except Family.DoesNotExist:
        raise Http404() from None


@roles(*FAMILY_READERS)
def family_detail(request, pk, revealed=None):
    """The family page: every field as the privacy policy gives it to the reader, and one audit row
    per kind of record whose audited plaintext (check-in notes, health…) the page showed."""
    family = _family_or_404(request, pk)
    user = request.user
    fields = selectors.PageFields(user)
    whole = request.GET.get("timeline") == "all"
    timeline, more = selectors.family_timeline(user=user, family=family, fields=fields,
                                               limit=None if whole else selectors.TIMELINE_FIRST)
    context = {
        "family": family, **selectors.family_page(user=user, family=family, fields=fields),
        "members": selectors.family_members(family=family, fields=fields, revealed=revealed),
        "timeline": timeline, "timeline_more": more, "today": timezone.localdate(), "call_reason": CALL_REASON,
        "can_checkin": _may(user, CHECKIN), "can_pair": _may(user, COORDINATION),
    }
    fields.record(ip=client_ip(request))
    return render(request, "workspace/family.html", context)


@require_POST
@roles(*CASEWORK)
def member_reveal(request, pk, member_pk):
    """Reveal a member's ID number or phone with a reason (``privacy.reveal``: the same audited act
    as on the API). A revealed phone comes back as a "call" link: tap-to-call."""
    family = _family_or_404(request, pk)
    member = get_object_or_404(FamilyMember, pk=member_pk, family=family)
    form = RevealForm(request.POST)
    if not form.is_valid():
        _errors(request, ValidationError(list(form.errors.values())))
        return redirect("workspace:family", pk=family.pk)
    name = form.cleaned_data["field"]
    try:
        values = services.member_reveal(actor=request.user, member=member, names=[name],
                                        reason=form.cleaned_data["reason"], ip=client_ip(request))
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("workspace:family", pk=family.pk)
    if _is_htmx(request):
        return render(request, "workspace/partials/revealed.html", {"member": member, "field": name,
                                                                     "value": values[name]})
    return family_detail(request, pk, revealed={member.pk: values})


def _wants_json(request):
    return "application/json" in request.headers.get("Accept", "")


def _add_errors(form, exc):
    """A service's ``ValidationError`` onto the form: on its field when the form has one."""
    for name, errors in exc.update_error_dict({}).items():
        form.add_error(name if name in form.fields else None, errors)


def _form_errors_json(form):
    """The form's errors for a script (the check-in outbox), each naming its field, translated."""
    errors = []
    for name, field_errors in form.errors.items():
        label = str(form.fields[name].label) if name in form.fields else ""
        errors += [{"field": name, "label": label, "message": str(message)} for message in field_errors]
    summary = " ".join(f"{e['label']}: {e['message']}" if e["label"] else e["message"] for e in errors)
    return JsonResponse({"errors": errors, "message": summary}, status=400)


@roles(*CHECKIN)
def checkin_new(request, pk):
    """The check-in form. Sent by the phone's outbox (``Accept: application/json``) it answers JSON
    instead of redirecting: a followed redirect would use up the confirmation before anyone saw it."""
    family = _family_or_404(request, pk)
    form = CheckinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        key = data.pop("key")
        try:
            checkin, created = services.checkin_submit(actor=request.user, family=family, key=key, **data)
        except ValidationError as exc:
            _add_errors(form, exc)
        except OutOfReachError:
            raise Http404() from None
        else:
            family.refresh_from_db()
            if created:
                message = _("Check-in saved. Next contact due %(date)s.") % {"date": family.next_checkin_due}
            else:
                message = _("This check-in was saved already.")
            url = reverse("workspace:family", args=[family.pk])
            if _wants_json(request):
                return JsonResponse({"saved": True, "created": created, "message": message, "url": url})
            messages.success(request, message)
            return redirect(url)
    if request.method == "POST" and _wants_json(request):
        return _form_errors_json(form)
    return render(request, "workspace/checkin.html", {"family": family, "form": form})


# --- volunteer coordinators --------------------------------------------------------------------

@roles(*COORDINATION)
def volunteer_list(request):
    q = request.GET.get("q", "").strip()
    volunteers = selectors.volunteer_directory(user=request.user)
    if q:
        volunteers = volunteers.filter(Q(name__contains=q) | Q(name_initials__startswith=q.lower()))
    return render(request, "workspace/volunteers.html", {
        "volunteers": volunteers[:200], "q": q, "today": timezone.localdate(),
        "soon": timezone.localdate() + datetime.timedelta(days=60),
    })


def _parse_day(value):
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        return timezone.localdate()


@roles(*COORDINATION)
def trainings(request):
    view = "week" if request.GET.get("view") == "week" else "month"
    day = _parse_day(request.GET.get("date"))
    if view == "week":
        start = day - datetime.timedelta(days=day.weekday())
        days = [start + datetime.timedelta(days=i) for i in range(7)]
        prev_day, next_day = start - datetime.timedelta(days=7), start + datetime.timedelta(days=7)
    else:
        weeks = month_calendar.Calendar().monthdatescalendar(day.year, day.month)
        days = [d for week in weeks for d in week]
        first = day.replace(day=1)
        prev_day = (first - datetime.timedelta(days=1)).replace(day=1)
        next_day = (first + datetime.timedelta(days=32)).replace(day=1)
    sessions = volunteer_selectors.session_list(user=request.user).filter(
        starts_at__date__gte=days[0], starts_at__date__lte=days[-1]).order_by("starts_at")
    by_day = {}
    for session in sessions:
        by_day.setdefault(timezone.localdate(session.starts_at), []).append(session)
    cells = [{"day": d, "sessions": by_day.get(d, []), "in_month": view == "week" or d.month == day.month} for d in days]
    return render(request, "workspace/trainings.html", {
        "view": view, "day": day, "cells": cells, "prev_day": prev_day, "next_day": next_day,
        "today": timezone.localdate(), "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
    })


@roles(*COORDINATION)
def training_new(request):
    courses = volunteer_selectors.course_list(user=request.user)
    initial = {}
    if request.GET.get("date"):
        start = timezone.make_aware(datetime.datetime.combine(_parse_day(request.GET["date"]), datetime.time(9)))
        initial = {"starts_at": start, "ends_at": start + datetime.timedelta(hours=3)}
    form = SessionForm(request.POST or None, courses=courses, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            session = volunteer_services.training_session_schedule(
                actor=request.user, course=data["course"], region=request.user.region or data["course"].region,
                starts_at=data["starts_at"], ends_at=data["ends_at"], venue=data["venue"], trainer=data["trainer"],
                capacity=data["capacity"])
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("Training session scheduled."))
            return redirect("workspace:training", pk=session.pk)
    return render(request, "workspace/training_new.html", {"form": form})


def _session_or_404(request, pk):
    return get_object_or_404(volunteer_selectors.session_list(user=request.user), pk=pk)


@roles(*COORDINATION)
def training_detail(request, pk):
    session = _session_or_404(request, pk)
    if request.method == "POST":
        try:
            _training_action(request, session)
        except ValidationError as exc:
            _errors(request, exc)
        except OutOfReachError:
            raise Http404() from None
        return redirect("workspace:training", pk=session.pk)
    enrollments = list(session.enrollments.select_related("volunteer").order_by("enrolled_at", "id"))
    booked = {e.volunteer_id for e in enrollments if e.status != Enrollment.Status.CANCELLED}
    candidates = [v for v in volunteer_selectors.volunteer_list(user=request.user).filter(status=Volunteer.Status.ACTIVE)
                  if v.pk not in booked][:200]
    checkin_url = request.build_absolute_uri(reverse("workspace:training_qr", args=[session.qr_token]))
    qr_svg = segno.make(checkin_url, error="m").svg_inline(scale=4, title=_("QR code for check-in"))
    return render(request, "workspace/training.html", {
        "session": session, "candidates": candidates, "checkin_url": checkin_url, "qr_svg": qr_svg,
        "attendance_open": volunteer_services.attendance_open(session),
        "places": [e for e in enrollments if e.status in (Enrollment.Status.ENROLLED, Enrollment.Status.ATTENDED,
                                                           Enrollment.Status.NO_SHOW)],
        "waitlist": [e for e in enrollments if e.status == Enrollment.Status.WAITLISTED],
        "cancelled": [e for e in enrollments if e.status == Enrollment.Status.CANCELLED],
    })


def _training_action(request, session):
    action = request.POST.get("action")
    user = request.user
    if action == "enrol":
        volunteers = volunteer_selectors.volunteer_list(user=user).filter(pk__in=request.POST.getlist("volunteer"))
        for volunteer in volunteers:
            try:
                enrollment = volunteer_services.enrollment_create(actor=user, session=session, volunteer=volunteer)
            except ValidationError as exc:
                messages.error(request, f"{volunteer}: {' '.join(exc.messages)}")
            else:
                messages.success(request, f"{volunteer}: {enrollment.get_status_display()}")
    elif action == "attendance":
        present = set(request.POST.getlist("present"))
        for enrollment in session.enrollments.filter(status__in=(Enrollment.Status.ENROLLED, Enrollment.Status.ATTENDED,
                                                                 Enrollment.Status.NO_SHOW)).select_related("session__region"):
            attended = str(enrollment.pk) in present
            if attended != (enrollment.status == Enrollment.Status.ATTENDED):
                volunteer_services.attendance_mark(actor=user, enrollment=enrollment, attended=attended)
        messages.success(request, _("Attendance saved."))
    elif action == "cancel":
        enrollment = get_object_or_404(session.enrollments.select_related("volunteer__region", "session__region"),
                                       pk=request.POST.get("enrollment"))
        volunteer_services.enrollment_cancel(actor=user, enrollment=enrollment)
    elif action == "complete":
        granted = volunteer_services.session_complete(actor=user, session=session)
        messages.success(request, _("Session completed; %(n)s qualifications granted.") % {"n": len(granted)})


@login
def training_qr(request, token):
    """Where the session's QR code points: a volunteer checks themself in."""
    session = get_object_or_404(volunteer_selectors.session_list(user=request.user), qr_token=token)
    volunteer = getattr(request.user, "volunteer", None) if request.user.role == Role.VOLUNTEER else None
    if request.method == "POST":
        if volunteer is None:
            raise PermissionDenied()
        try:
            volunteer_services.session_checkin_by_token(actor=request.user, token=token, volunteer=volunteer)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("You are checked in. Welcome!"))
        return redirect("workspace:training_qr", token=token)
    enrollment = session.enrollments.filter(volunteer=volunteer).first() if volunteer else None
    return render(request, "workspace/training_qr.html", {"session": session, "enrollment": enrollment,
                                                          "volunteer": volunteer})


@roles(*COORDINATION)
def pairing(request, pk):
    family = _family_or_404(request, pk)
    if request.method == "POST":
        volunteer = get_object_or_404(volunteer_selectors.volunteer_list(user=request.user), pk=request.POST.get("volunteer"))
        try:
            volunteer_services.pairing_create(actor=request.user, volunteer=volunteer, family=family)
        except ValidationError as exc:
            _errors(request, exc)
        except OutOfReachError:
            raise Http404() from None
        else:
            messages.success(request, _("%(volunteer)s is now paired with this family.") % {"volunteer": volunteer})
        return redirect("workspace:pairing", pk=family.pk)
    form = SkillFilterForm(request.GET or None)
    skills = form.cleaned_data["skills"] if form.is_valid() else Skill.objects.none()
    current = restrict(Pairing.objects.filter(family=family, ended_on__isnull=True).select_related("volunteer"),
                       request.user)
    return render(request, "workspace/pairing.html", {
        "family": family, "form": form, "current": current,
        "suggestions": selectors.pairing_suggestions(user=request.user, family=family, skills=list(skills)),
    })


# --- volunteers --------------------------------------------------------------------------------

@roles(Role.VOLUNTEER)
def me(request):
    volunteer = Volunteer.objects.select_related("region").filter(user=request.user).first()
    if volunteer is None:
        raise Http404()
    data = selectors.volunteer_home(user=request.user, volunteer=volunteer)
    form = ServiceHoursForm(request.POST or None, families=data["families"]) if request.POST.get("action") == "hours" \
        else ServiceHoursForm(families=data["families"])
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "hours" and form.is_valid():
                family_id = form.cleaned_data["family"]
                family = next((p.family for p in data["pairings"] if p.family_id == family_id), None)
                volunteer_services.service_hours_log(
                    actor=request.user, volunteer=volunteer, date=form.cleaned_data["date"],
                    hours=form.cleaned_data["hours"], description=form.cleaned_data["description"], family=family)
                messages.success(request, _("Hours logged; a coordinator will review them."))
                return redirect("workspace:me")
            if action == "enrol":
                session = get_object_or_404(volunteer_selectors.session_list(user=request.user), pk=request.POST.get("session"))
                enrollment = volunteer_services.enrollment_create(actor=request.user, session=session, volunteer=volunteer)
                messages.success(request, f"{session}: {enrollment.get_status_display()}")
                return redirect("workspace:me")
            if action == "cancel":
                enrollment = get_object_or_404(volunteer_selectors.enrollment_list(user=request.user).select_related(
                    "volunteer__region"), pk=request.POST.get("enrollment"), volunteer=volunteer)
                volunteer_services.enrollment_cancel(actor=request.user, enrollment=enrollment)
                messages.success(request, _("Enrolment cancelled."))
                return redirect("workspace:me")
        except ValidationError as exc:
            _errors(request, exc)
        except OutOfReachError:
            raise Http404() from None
    return render(request, "workspace/me.html", {"volunteer": volunteer, "form": form, **data})


# --- region managers ---------------------------------------------------------------------------

@roles(*MANAGERS)
def coverage(request):
    user = request.user
    code = request.GET.get("region")
    if code:
        region = get_object_or_404(Region, code=Region.normalize_code(code))
        if not region_within_reach(user, region.path):
            raise Http404()
    else:
        region = user.region or get_object_or_404(Region, level=Region.Level.PROVINCE, code__startswith="35")
    ancestors = [r for r in Region.objects.filter(code__in=[
        Region.normalize_code(region.path[:n]) for n in (2, 4, 6, 9) if n < len(region.path)]).order_by("level")
        if region_within_reach(user, r.path)]
    return render(request, "workspace/coverage.html", {
        "region": region, "ancestors": ancestors, **selectors.coverage(user=user, region=region),
        "month": timezone.localdate().replace(day=1),
    })


# --- auditors ----------------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


def audit_reader(view):
    """Whoever reads the trail in the admin and the API (the model's reach and its view permission)."""
    @functools.wraps(view)
    @login
    def wrapped(request, *args, **kwargs):
        if not (can_use(request.user, AuditEvent) and request.user.has_perm("core.view_auditevent")):
            raise PermissionDenied()
        return view(request, *args, **kwargs)
    return wrapped


@audit_reader
def audit(request):
    """The audit trail of the reader's region: by family, person, event and period, a page at a
    time (no count of a table that only grows), or all of it as CSV — itself an audited export."""
    form = AuditFilterForm(request.GET)  # every field optional: no filter is the whole trail
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        rows = selectors.audit_trail(user=request.user, **filters)
        if request.GET.get("format") == "csv":
            return _audit_csv(request, rows, filters)
    else:
        rows = AuditEvent.objects.none()
    try:
        number = max(int(request.GET.get("page", 1)), 1)
    except ValueError:
        number = 1
    start = (number - 1) * AUDIT_PAGE_SIZE
    events = list(rows[start:start + AUDIT_PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("page", None)
    # Reading the trail is itself recorded, as on the API (the ids read, never their contents).
    audit_log(actor=request.user, event=privacy.read_event(selectors.SURFACE, AuditEvent), objects=events[:AUDIT_PAGE_SIZE],
              region_path=request.user.reach_path, after={"query": query.dict()} if query else None,
              ip=client_ip(request))
    return render(request, "workspace/audit.html", {
        "form": form, "events": [(e, selectors.audit_fields(e)) for e in events[:AUDIT_PAGE_SIZE]],
        "number": number, "has_next": len(events) > AUDIT_PAGE_SIZE, "query": query.urlencode(),
    })


class _Echo:
    def write(self, value):
        return value


def _audit_csv(request, rows, filters):
    audit_log(actor=request.user, event="workspace.audit.exported", region_path=request.user.reach_path,
              after={"filters": {k: str(v) for k, v in filters.items()}}, ip=client_ip(request))
    writer = csv.writer(_Echo())
    header = [_("time"), _("user name"), _("role"), _("event"), _("object type"), _("object ids"), _("family id"),
              _("region"), _("fields"), _("reason"), _("IP address")]

    def lines():
        yield "\ufeff" + writer.writerow(header)  # a BOM: Excel then reads the file as UTF-8
        for e in rows.iterator(chunk_size=2000):
            yield writer.writerow([
                timezone.localtime(e.at).isoformat(timespec="seconds"), e.actor.username if e.actor else "",
                e.actor_role, e.event, e.object_type, " ".join(map(str, e.object_ids or [])), e.family_id or "",
                e.region_path, " ".join(selectors.audit_fields(e)), e.reason, e.ip or ""])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{timezone.localdate():%Y%m%d}.csv"'
    return response


# --- working offline ---------------------------------------------------------------------------

# The pages the service worker keeps for opening offline: what a visit needs (the worklist, the
# family search, a family's page and its check-in form). Each is kept as the page showed it, masked
# as it was: only what was opened, never fetched ahead.
OFFLINE_PAGES = ("workspace:today", "workspace:families")
# What those pages need to look right offline; the service worker keeps them from its install on.
OFFLINE_STATIC = ("workspace/app.css", "workspace/htmx.min.js", "workspace/outbox.js", "workspace/checkin.js")


def service_worker(request):
    """The service worker, served from the root so that its scope is the whole workspace; a template
    so that it names this release's static files."""
    config = {
        "pages": [reverse(name) for name in OFFLINE_PAGES],
        "offline": reverse("workspace:offline"),
        "logout": reverse("workspace:logout"),
        "static": settings.STATIC_URL,
        "precache": [static(name) for name in OFFLINE_STATIC],
    }
    config = json.dumps(config, sort_keys=True)
    response = render(request, "workspace/sw.js", {
        "config": config, "version": hashlib.sha256(config.encode()).hexdigest()[:12],
    }, content_type="text/javascript; charset=utf-8")
    # Browsers look for a new worker at least daily anyway; this makes them look on every start.
    response["Cache-Control"] = "no-cache"
    return response


def offline(request):
    """What a page not kept on the phone shows without a connection. It names nobody (the service
    worker keeps it for whoever signs in next), so it is rendered as if nobody were signed in."""
    return render(request, "workspace/offline.html", {"user": AnonymousUser(), "outbox_unknown": True})


# --- calendar feeds ----------------------------------------------------------------------------

@login
def calendar_settings(request):
    token = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.calendar_feed_revoke(actor=request.user)
            messages.success(request, _("Your calendar feed address no longer works."))
            return redirect("workspace:calendar")
        token = services.calendar_feed_create(actor=request.user)
    feed_url = request.build_absolute_uri(reverse("workspace:calendar_feed", args=[token])) if token else None
    active = request.user.calendar_feeds.filter(revoked_at__isnull=True).first()
    return render(request, "workspace/calendar.html", {"feed_url": feed_url, "active": active})


def calendar_feed(request, token):
    """The iCal feed itself: no session (calendar apps have none), the secret in the URL decides."""
    user = services.calendar_feed_user(token)
    if user is None:
        raise Http404()
    body = ical.render(selectors.calendar_events(user=user), name=_("Care work: %(user)s") % {"user": user})
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=900"
    return response
