"""The coordinator's "5+N" planner: the month's activities and group birthdays, planning an activity
at a site, inviting families and volunteers to it, and taking its attendance on the day (ticked on
the list or by QR code). Thin doors to ``services.services`` and ``services.birthdays``; reads go
through ``services.selectors``, names as ``workspace.selectors.PageFields`` gives them."""
import datetime

import segno
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casemgmt.api.viewsets import client_ip
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import Role
from families import selectors as family_selectors
from services import birthdays
from services import selectors as service_selectors
from services import services as service_services
from services.models import Activity, ActivityAttendance, ActivityInvitation, ServiceSite
from volunteers import selectors as volunteer_selectors

from . import selectors
from .forms import DateTimeInput
from .views import COORDINATION, _add_errors, _errors, _parse_day, login, roles


class ActivityForm(forms.Form):
    site = forms.ModelChoiceField(label=gettext_lazy("site"), queryset=ServiceSite.objects.none())
    category = forms.ChoiceField(label=gettext_lazy("category"), choices=Activity.Category.choices,
                                 widget=forms.RadioSelect)
    local_name = forms.CharField(label=gettext_lazy("local activity name"), max_length=100, required=False,
                                 help_text=gettext_lazy("Only for a local signature activity."))
    title = forms.CharField(label=gettext_lazy("title"), max_length=200)
    starts_at = forms.DateTimeField(label=gettext_lazy("starts at"), widget=DateTimeInput())
    ends_at = forms.DateTimeField(label=gettext_lazy("ends at"), widget=DateTimeInput())
    capacity = forms.IntegerField(label=gettext_lazy("capacity"), min_value=1, required=False)
    description = forms.CharField(label=gettext_lazy("description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites


def _month_bounds(day):
    first = day.replace(day=1)
    return first, (first + datetime.timedelta(days=32)).replace(day=1)


@roles(*COORDINATION)
def activities(request):
    """The planner: this month's activities by category (each links to its page), what is coming at
    the chosen site, and next month's birthday list there, planned as a celebration in one step."""
    day = _parse_day(request.GET.get("date"))
    first, following = _month_bounds(day)
    sites = list(service_selectors.site_list(user=request.user).order_by("name"))
    site = next((s for s in sites if str(s.pk) == request.GET.get("site", request.POST.get("site"))), sites[0] if sites else None)
    if request.method == "POST" and site is not None:
        try:
            activity = birthdays.birthday_celebration_create(actor=request.user, site=site, month=following.month,
                                                             year=following.year)
        except ValidationError as exc:
            _errors(request, exc)
        except OutOfReachError:
            raise Http404() from None
        else:
            messages.success(request, _("Planned: %(title)s") % {"title": activity.title})
        return redirect(f"{reverse('workspace:activities')}?date={day:%Y-%m-%d}&site={site.pk}")
    in_reach = service_selectors.activity_list(user=request.user)
    month_activities = in_reach.filter(starts_at__date__gte=first, starts_at__date__lt=following).order_by("starts_at")
    by_category = {value: [] for value, _label in Activity.Category.choices}
    for activity in month_activities:
        by_category[activity.category].append(activity)
    groups = [(label, by_category[value]) for value, label in Activity.Category.choices]
    upcoming = list(in_reach.filter(site=site, ends_at__gte=timezone.now()).exclude(
        status=Activity.Status.CANCELLED).order_by("starts_at")[:10]) if site else []
    birthday_list = birthdays.birthday_members(site=site, year=following.year, month=following.month) if site else []
    return render(request, "workspace/activities.html", {
        "groups": groups, "day": first, "following": following, "sites": sites, "site": site, "upcoming": upcoming,
        "birthdays": birthday_list, "prev_day": (first - datetime.timedelta(days=1)).replace(day=1),
    })


@roles(*COORDINATION)
def activity_new(request):
    """Plan an activity at a site in reach. A site out of reach is not offered, and sent anyway it is
    not found (404), as any record out of reach."""
    sites = service_selectors.site_list(user=request.user).order_by("name")
    raw_site = request.POST.get("site", "")
    if raw_site.isdigit() and not sites.filter(pk=raw_site).exists():
        raise Http404()
    initial = {"site": request.GET.get("site")}
    if request.GET.get("date"):
        start = timezone.make_aware(datetime.datetime.combine(_parse_day(request.GET["date"]), datetime.time(9)))
        initial.update(starts_at=start, ends_at=start + datetime.timedelta(hours=2))
    form = ActivityForm(request.POST or None, sites=sites, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            activity = service_services.activity_plan(
                actor=request.user, site=data["site"], category=data["category"], title=data["title"],
                local_name=data["local_name"], starts_at=data["starts_at"], ends_at=data["ends_at"],
                capacity=data["capacity"], description=data["description"])
        except ValidationError as exc:
            _add_errors(form, exc)
        except OutOfReachError:
            raise Http404() from None
        else:
            messages.success(request, _("Activity planned. Now invite families and volunteers."))
            return redirect("workspace:activity", pk=activity.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "workspace/activity_new.html", {"form": form}, status=status)


def _activity_or_404(request, pk):
    return get_object_or_404(service_selectors.activity_list(user=request.user).select_related("organiser"), pk=pk)


class _Person:
    """One row of the activity page: an invitee or a walk-in, named as the policy gives the name."""

    def __init__(self, key, name, where, invitation=None, attendance=None):
        self.key, self.name, self.where = key, name, where
        self.invitation, self.attendance = invitation, attendance


def _people(user, activity, fields):
    invitations = list(service_selectors.invitation_list(user=user).filter(activity=activity).order_by("invited_at", "id"))
    attendance = list(service_selectors.attendance_list(user=user).filter(activity=activity).select_related(
        "member__family__region", "volunteer__region").order_by("checked_in_at", "id"))
    rows = {}

    def row(member, volunteer):
        if member is not None:
            key = f"m{member.pk}"
            where = f"{fields.text(member.family, 'file_number')} · {member.family.region.name}"
            return rows.setdefault(key, _Person(key, fields.text(member, "name"), where))
        key = f"v{volunteer.pk}"
        return rows.setdefault(key, _Person(key, fields.text(volunteer, "name"), _("volunteer")))

    for invitation in invitations:
        row(invitation.member, invitation.volunteer).invitation = invitation
    for present in attendance:
        row(present.member, present.volunteer).attendance = present
    return list(rows.values()), invitations, attendance


@roles(*COORDINATION)
def activity_detail(request, pk):
    """An activity on the day: who is invited, who came (ticked on the list, not before the start),
    inviting more (families and volunteers in reach) and walk-ins, and the QR code for check-in."""
    activity = _activity_or_404(request, pk)
    if request.method == "POST":
        try:
            _activity_action(request, activity)
        except ValidationError as exc:
            _errors(request, exc)
        except OutOfReachError:
            raise Http404() from None
        return redirect(request.get_full_path())
    q = request.GET.get("q", "").strip()[:50]
    fields = selectors.PageFields(request.user)
    people, invitations, attendance = _people(request.user, activity, fields)
    members, volunteers = service_selectors.invitation_candidates(user=request.user, activity=activity, q=q)
    candidates = {
        "members": [(m, fields.text(m, "name"), f"{fields.text(m.family, 'file_number')} · {m.family.region.name}")
                    for m in members],
        "volunteers": [(v, fields.text(v, "name"), v.region.name) for v in volunteers],
    }
    checkin_url = request.build_absolute_uri(reverse("workspace:activity_qr", args=[activity.qr_token]))
    seats = sum(1 for i in invitations if i.member_id and i.status != ActivityInvitation.Status.DECLINED)
    response = render(request, "workspace/activity.html", {
        "activity": activity, "people": people, "invitations": invitations, "candidates": candidates, "q": q,
        "attendance_open": service_services.attendance_open(activity),
        "closed": activity.status in service_services.CLOSED, "seats": seats,
        "attended": len(attendance), "checkin_url": checkin_url,
        "qr_svg": segno.make(checkin_url, error="m").svg_inline(scale=4, title=_("QR code for check-in")),
    })
    fields.record(ip=client_ip(request))
    return response


def _chosen(request, user):
    return _found_in_reach(user, set(request.POST.getlist("member")), set(request.POST.getlist("volunteer")))


def _found_in_reach(user, members, volunteers):
    """Family members and volunteers by id, looked up in reach only: one that is not found there was
    never offered (a forged form) and is refused as not found."""
    if not all(value.isdigit() for value in members | volunteers):
        raise OutOfReachError()
    found_members = list(family_selectors.member_list(user=user).filter(pk__in=members)) if members else []
    found_volunteers = list(volunteer_selectors.volunteer_list(user=user).filter(pk__in=volunteers)) if volunteers else []
    if len(found_members) != len(members) or len(found_volunteers) != len(volunteers):
        raise OutOfReachError()
    return found_members, found_volunteers


def _activity_action(request, activity):
    action = request.POST.get("action")
    user = request.user
    if action in ("invite", "walkin"):
        members, volunteers = _chosen(request, user)
        if action == "invite":
            created = service_services.activity_invite(
                actor=user, activity=activity, members=members, volunteers=volunteers,
                notify=request.POST.get("notify") == "on",
                link=reverse("workspace:activity_qr", args=[activity.qr_token]))
            messages.success(request, _("%(n)s invited.") % {"n": len(created)})
        else:
            if not members and not volunteers:
                raise ValidationError({"member": _("Choose who came.")})
            for person in [{"member": m} for m in members] + [{"volunteer": v} for v in volunteers]:
                service_services.activity_checkin(actor=user, activity=activity, **person)
            messages.success(request, _("Attendance saved."))
    elif action == "attendance":
        _attendance_save(request, activity)
    elif action == "answer":
        invitation_id, _sep, status = request.POST.get("answer", "").partition(":")
        invitation = get_object_or_404(service_selectors.invitation_list(user=user).filter(activity=activity),
                                       pk=invitation_id if invitation_id.isdigit() else 0)
        service_services.invitation_answer(actor=user, invitation=invitation, status=status)
        messages.success(request, _("Answer saved."))


def _attendance_save(request, activity):
    """The ticks of the list (``m<member id>``, ``v<volunteer id>``): who came, exactly."""
    present = request.POST.getlist("present")
    members = {key[1:] for key in present if key.startswith("m")}
    volunteers = {key[1:] for key in present if key.startswith("v")}
    if len(members) + len(volunteers) != len(set(present)):
        raise OutOfReachError()
    members, volunteers = _found_in_reach(request.user, members, volunteers)
    added, removed = service_services.activity_attendance_set(actor=request.user, activity=activity, members=members,
                                                              volunteers=volunteers)
    messages.success(request, _("Attendance saved: %(added)s checked in, %(removed)s taken off.") % {
        "added": added, "removed": removed})


@login
def activity_qr(request, token):
    """Where the activity's QR code points: a volunteer checks themself in, from the start to the end."""
    activity = get_object_or_404(service_selectors.activity_list(user=request.user), qr_token=token)
    volunteer = getattr(request.user, "volunteer", None) if request.user.role == Role.VOLUNTEER else None
    if request.method == "POST":
        if volunteer is None:
            raise PermissionDenied()
        try:
            service_services.activity_checkin_by_token(actor=request.user, token=token, volunteer=volunteer)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("You are checked in. Welcome!"))
        return redirect("workspace:activity_qr", token=token)
    present = volunteer is not None and ActivityAttendance.objects.filter(activity=activity, volunteer=volunteer).exists()
    return render(request, "workspace/activity_qr.html", {"activity": activity, "volunteer": volunteer,
                                                          "present": present,
                                                          "open": service_services.attendance_open(activity)})
