"""Forms of the workspace: big touch targets (radio buttons over selects) for phone use."""
import datetime
import uuid

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from families.models import CheckIn, RiskLevel
from volunteers.models import Skill, TrainingCourse

# How old the contact of a check-in sent from the workspace may be: a draft kept on a phone through
# a long stretch without signal arrives days late, but a month-old one is more likely a phone that
# sat in a drawer, or a wrong clock, than the record the family's due dates should move by.
CHECKIN_MAX_AGE = datetime.timedelta(days=30)


class DateInput(forms.DateInput):
    """A native date picker. Its value must be ISO (YYYY-MM-DD): written in the language's own date
    format (2026/12/06 in Chinese), the browser shows the field blank."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    """A native date-and-time picker, whose value is ISO to the minute for the same reason."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class CheckinForm(forms.Form):
    key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    # When the contact happened: the phone fills it when "save" is tapped, so a check-in kept offline
    # and sent hours later keeps its own time. Empty means now. ``checkin_record`` refuses the future.
    occurred_at = forms.DateTimeField(label=_("time of the contact"), required=False, widget=forms.HiddenInput)
    channel = forms.ChoiceField(label=_("channel"), choices=CheckIn.Channel.choices, widget=forms.RadioSelect,
                                initial=CheckIn.Channel.PHONE)
    physical_state = forms.ChoiceField(label=_("physical state"), choices=CheckIn.PhysicalState.choices,
                                       widget=forms.RadioSelect, required=False)
    mental_state = forms.ChoiceField(label=_("mental state"), choices=CheckIn.MentalState.choices,
                                     widget=forms.RadioSelect, required=False)
    needs = forms.CharField(label=_("needs and requests"), required=False, max_length=settings.FREE_TEXT_MAX_LENGTH,
                            widget=forms.Textarea(attrs={"rows": 2}))
    help_given = forms.CharField(label=_("help given"), required=False, max_length=settings.FREE_TEXT_MAX_LENGTH,
                                 widget=forms.Textarea(attrs={"rows": 2}))
    follow_up = forms.CharField(label=_("follow-up"), required=False, max_length=settings.FREE_TEXT_MAX_LENGTH,
                                widget=forms.Textarea(attrs={"rows": 2}))
    follow_up_due = forms.DateField(label=_("follow-up due"), required=False,
                                    widget=DateInput())

    def clean_occurred_at(self):
        occurred_at = self.cleaned_data["occurred_at"]
        if occurred_at is not None and occurred_at < timezone.now() - CHECKIN_MAX_AGE:
            raise forms.ValidationError(
                _("The contact was more than %(days)s days ago: a check-in this old cannot be sent from the workspace."),
                code="too_old", params={"days": CHECKIN_MAX_AGE.days})
        return occurred_at


# The reason a tap on "call" gives: the purpose is the same every time, and it is still audited.
CALL_REASON = _("Phone call to the family")


class RevealForm(forms.Form):
    field = forms.ChoiceField(choices=[("id_number", _("ID number")), ("phone", _("phone"))], required=False)
    reason = forms.CharField(label=_("reason"), max_length=500,
                             error_messages={"required": _("Say why you need to see it.")})

    def clean_field(self):
        return self.cleaned_data["field"] or "id_number"


class SessionForm(forms.Form):
    course = forms.ModelChoiceField(label=_("course"), queryset=TrainingCourse.objects.none())
    starts_at = forms.DateTimeField(label=_("starts at"), widget=DateTimeInput())
    ends_at = forms.DateTimeField(label=_("ends at"), widget=DateTimeInput())
    venue = forms.CharField(label=_("venue"), max_length=200)
    trainer = forms.CharField(label=_("trainer"), max_length=100, required=False)
    capacity = forms.IntegerField(label=_("capacity"), min_value=1)

    def __init__(self, *args, courses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = courses

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("The end must be after the start."))
        return data


class ServiceHoursForm(forms.Form):
    date = forms.DateField(label=_("date"), initial=timezone.localdate, widget=DateInput())
    hours = forms.DecimalField(label=_("hours"), max_digits=4, decimal_places=1, min_value=0.5, max_value=24)
    description = forms.CharField(label=_("description"), max_length=300)
    family = forms.TypedChoiceField(label=_("family"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, families=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["family"].choices = [("", "—")] + list(families)


class SkillFilterForm(forms.Form):
    skills = forms.ModelMultipleChoiceField(label=_("skills"), queryset=Skill.objects.all(), required=False,
                                            widget=forms.CheckboxSelectMultiple)


class AuditFilterForm(forms.Form):
    """What an auditor narrows the trail by: a family, the person who acted, the kind of event and a period."""

    family = forms.IntegerField(label=_("family id"), required=False, min_value=1, max_value=2**63 - 1)
    actor = forms.CharField(label=_("person (user name)"), required=False, max_length=150)
    event = forms.CharField(label=_("event (beginning of its name)"), required=False, max_length=100,
                            widget=forms.TextInput(attrs={"placeholder": "families.familymember.revealed"}))
    since = forms.DateField(label=_("from"), required=False, widget=DateInput())
    until = forms.DateField(label=_("to"), required=False, widget=DateInput())

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", _("The end of the period must not be before its start."))
        return data


class FamilyFilterForm(forms.Form):
    """The filters behind each count of the coverage page: the families list shows exactly those families."""

    region = forms.CharField(required=False, max_length=12)
    open = forms.BooleanField(required=False)
    contacted = forms.TypedChoiceField(required=False, choices=[("", ""), ("yes", "yes"), ("no", "no")],
                                       coerce=lambda value: value == "yes", empty_value=None)
    overdue = forms.BooleanField(required=False)
    risk = forms.ChoiceField(required=False, choices=[("", "")] + list(RiskLevel.choices))
    contact = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    unassigned = forms.BooleanField(required=False)
