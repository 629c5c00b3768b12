"""Import templates for every record a figure counts, built on django-import-export.

``RecordResource`` gives each template the contract of ``reports.imports.ImportTemplate``; a kind
is a small declarative class: its model, its columns (``Column``: heading, example, the model
attribute written, the widget reading it), its natural key and any rule across columns::

    class CheckupResource(RecordResource):
        id_number = Column(_("ID number"), "member", MemberByIdNumber(), required=True, text=True)
        date = Column(_("date"), "date", DateWidget(), required=True, example="2025-04-01")
        natural_key = ("member", "date", "provider")

        class Meta:
            model = HealthCheckup

and one line in ``TEMPLATES`` (its URL slug, its title) puts it on the reports page and the API.

How the contract is kept:

- **Reach on every row.** A reference (a family by file number, a person by ID number, a fund, a
  site, a training session) is looked up only among the records ``reach.restrict`` gives the
  importer; one outside it reads "not found", the same words as one that does not exist. A region
  is a public statistical code: one outside the importer's subtree says so, as the families
  import does. A natural key that matches a record outside reach (possible only where the key
  holds no reference, an insurer's policy number) needs an administrator's review and says no more.
- **Natural keys.** A row whose key is on record updates that record when a value differs and
  is skipped when none does, so a second upload of the same file changes nothing; two rows of one
  file with the same key are a problem.
- **Privacy.** Lookups by an ID number go through ``privacy.searchable`` and a column writing a
  field the importer's role never sees (``privacy.access`` HIDDEN, e.g. check-up findings for a
  coordinator) is refused; no answer repeats an ID number.
- **All or nothing.** The check and the write are one ``import_data`` pass in one transaction
  (bulk writes, rolled back when any row has a problem), serialised per kind by a transaction
  lock so that two uploads of one file cannot both find its rows new. One audit row per write.

References are resolved for the whole file before the first row (one query per 1,000 keys), and
the records a file's keys may match are loaded the same way, so a file costs a few queries per
thousand rows, not per row.
"""
import copy
import datetime
import re
import zlib
from decimal import Decimal, InvalidOperation

import tablib
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from import_export import fields, resources, widgets
from import_export.instance_loaders import BaseInstanceLoader
from import_export.results import RowResult

from casemgmt.core import privacy, reach
from casemgmt.core.audit import audit_log
from casemgmt.core.crypto import blind_index
from casemgmt.core.idcard import parse_id_number
from casemgmt.core.models import Region
from families import services as family_services
from families.models import CheckIn, Family, FamilyMember
from services import services
from services.models import (
    Activity,
    ActivityAttendance,
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)
from volunteers.models import Enrollment, TrainingCourse, TrainingSession, Volunteer

from .imports import (
    NO,
    YES,
    FamiliesTemplate,
    ImportFileError,
    ImportResult,
    ImportTemplate,
    Problem,
    RosterTemplate,
    VolunteersTemplate,
    _Budget,
    _choice_map,
    _chunks,
    _rows,
)
from .statistics import SPENT_POLICY_STATUSES

# ---- columns and the widgets that read them ---------------------------------------------------------


class Column(fields.Field):
    """One column of a template: its heading (lazy, translated), an example, whether it must be
    filled and whether the template formats it as text (ID numbers keep their digits)."""

    def __init__(self, heading, attribute=None, widget=None, *, required=False, text=False, example=""):
        super().__init__(attribute=attribute, widget=widget or TextWidget())
        self.heading, self.required, self.text, self.example = heading, required, text, example

    @property
    def key(self):
        return self.column_name

    def clean(self, row, **kwargs):
        if self.required and _blank(row.get(self.column_name)):
            raise RowProblem(_("This field is required."), "required")
        return super().clean(row, **kwargs)


class RowProblem(ValueError):
    """A cell's problem with its code (import-export turns a ValueError into the row's error)."""

    def __init__(self, message, code="invalid"):
        super().__init__(str(message))
        self.code = code


def _blank(value):
    return value is None or str(value).strip() == ""


class TextWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        return "" if value is None else str(value).strip()


class DateWidget(widgets.Widget):
    """2025-03-01, 2025/3/1, 2025.3.1 or 2025年3月1日."""

    PATTERN = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        match = self.PATTERN.match(str(value))
        try:
            return datetime.date(*(int(part) for part in match.groups()))
        except (AttributeError, ValueError):  # no match, or no such day
            raise RowProblem(_("Enter a date such as 2025-03-01."), "date") from None

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class DateTimeWidget(widgets.Widget):
    """A day and, optionally, the time of day (local time): 2025-03-01 09:30, 2025/3/1 9:30,
    2025年3月1日 9时30分; a day alone is its midnight."""

    PATTERN = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                         r"(?:\s*[T ]?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?(?:\s*[:：]\s*(\d{1,2})\s*秒?)?)?\s*$")

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        if isinstance(value, datetime.datetime):
            return value if timezone.is_aware(value) else timezone.make_aware(value)
        match = self.PATTERN.match(str(value))
        try:
            return timezone.make_aware(datetime.datetime(*(int(part or 0) for part in match.groups())))
        except (AttributeError, ValueError):  # no match, or no such day or time
            raise RowProblem(_("Enter a date and time such as 2025-03-01 09:30."), "datetime") from None

    def render(self, value, obj=None, **kwargs):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}" if value else ""


class AmountWidget(widgets.Widget):
    """An amount of money in yuan, not negative, to the fen (an empty cell reads as ``blank``)."""

    def __init__(self, blank=None):
        super().__init__()
        self.blank = blank

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return self.blank
        try:
            amount = Decimal(str(value).replace(",", "").replace("，", "").strip())
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")) \
                or amount >= 10 ** 10:
            raise RowProblem(_("Enter an amount of money in yuan, not negative, such as 1000.00."), "amount")
        return amount.quantize(Decimal("0.01"))


class CountWidget(widgets.Widget):
    """A whole number, not negative (a capacity, a number of days, a year)."""

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        text = str(value).strip()
        if not text.isdigit() or int(text) > 32767:
            raise RowProblem(_("Enter a whole number, such as 30."), "number")
        return int(text)


class YesNoWidget(widgets.Widget):
    def __init__(self, default=False):
        super().__init__()
        self.default = default

    def clean(self, value, row=None, **kwargs):
        text = "" if value is None else str(value).strip().lower()
        if text == "":
            return self.default
        if text not in YES | NO:
            raise RowProblem(_("Write yes or no."), "yes_or_no")
        return text in YES


class ChoiceWidget(widgets.Widget):
    """A value of ``choices``, written as its Chinese or English label, its code or a synonym."""

    def __init__(self, choices, synonyms=None):
        super().__init__()
        self.choices, self.synonyms = choices, synonyms or {}
        self.mapping = None

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return ""
        if self.mapping is None:
            self.mapping = _choice_map(self.choices, self.synonyms)
        text = str(value).strip()
        found = self.mapping.get(text.lower()) or self.mapping.get(text)
        if found is None:
            raise RowProblem(_("Unknown value %(value)s.") % {"value": text[:50]}, "unknown")
        return found


# ---- references, looked up in the importer's reach ----------------------------------------------------

class Lookup(widgets.Widget):
    """A reference written by a key the clerk keeps (a file number, an ID number, a name), resolved
    for the whole file at once (``load``) among the records in the importer's reach; anything else
    is "not found", whether it exists elsewhere or not."""

    not_found = ""

    def __init__(self):
        super().__init__()
        self.found = {}

    def key(self, value, row):
        """The lookup key of a cell (raise ``RowProblem`` for one that cannot be a key)."""
        return str(value).strip()

    def load(self, actor, keys):
        """{key: record} for ``keys``, in the actor's reach."""
        raise NotImplementedError

    def prepare(self, actor, values, rows):
        keys = set()
        for value, row in zip(values, rows, strict=True):
            if not _blank(value):
                try:
                    keys.add(self.key(value, row))
                except RowProblem:
                    pass  # reported by clean() on its row
        self.found = self.load(actor, keys) if keys else {}

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        found = self.found.get(self.key(value, row))
        if found is None:
            raise RowProblem(self.message(value), "not_found")
        if isinstance(found, list):
            raise RowProblem(_("Several records in your reach match; add the column that tells them apart."),
                             "ambiguous")
        return found

    def message(self, value):
        return self.not_found


def _by(pairs):
    """{key: record}, or {key: [records]} where a key matches more than one."""
    found = {}
    for key, record in pairs:
        if key in found:
            found[key] = (found[key] if isinstance(found[key], list) else [found[key]]) + [record]
        else:
            found[key] = record
    return found


class RegionByCode(Lookup):
    def key(self, value, row):
        return Region.normalize_code(str(value).strip())

    def load(self, actor, keys):
        regions = {}
        for chunk in _chunks(keys):
            regions.update({r.code: r for r in Region.objects.filter(code__in=chunk)})
        return regions

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        region = self.found.get(self.key(value, row))
        if region is None:
            raise RowProblem(_("Unknown division code %(code)s.") % {"code": str(value)[:20]}, "unknown_region")
        if not reach.region_within_reach(self.actor, region.path):
            raise RowProblem(_("This region is outside your reach."), "region_out_of_reach")
        return region

    def prepare(self, actor, values, rows):
        self.actor = actor
        super().prepare(actor, values, rows)


class FamilyByFileNumber(Lookup):
    def load(self, actor, keys):
        found = {}
        for chunk in _chunks(keys):
            found.update({f.file_number: f for f in reach.restrict(Family.objects.all(), actor).filter(
                file_number__in=chunk).only("id", "file_number", "region_path")})
        return found

    def message(self, value):
        return _("No family in your reach has the file number %(number)s.") % {"number": str(value)[:40]}


class PersonByIdNumber(Lookup):
    """A family member or a volunteer by ID number, matched by its blind index (never decrypted,
    never repeated in an answer). Only for a role that may find people by ID number
    (``privacy.searchable``)."""

    model = None
    living_only = False
    allowed = True

    def key(self, value, row):
        try:
            return blind_index(parse_id_number(str(value)).number, "id_number")
        except ValidationError as exc:
            raise RowProblem(exc.messages[0], exc.error_list[0].code or "invalid") from exc

    def prepare(self, actor, values, rows):
        self.allowed = privacy.searchable(actor, self.model, "id_number")
        super().prepare(actor, values, rows)

    def clean(self, value, row=None, **kwargs):
        if not self.allowed and not _blank(value):
            raise RowProblem(_("Your role does not find people by their ID number."), "not_allowed")
        return super().clean(value, row, **kwargs)

    def load(self, actor, keys):
        if not self.allowed:
            return {}
        queryset = reach.restrict(self.model.objects.all(), actor)
        if self.living_only:
            queryset = queryset.filter(is_deceased=False)
        pairs = []
        for chunk in _chunks(keys):
            pairs += [(p.id_number_index, p) for p in queryset.filter(id_number_index__in=chunk).defer(
                *[f.name for f in self.model._meta.fields if isinstance(f, models.TextField)])]
        return _by(pairs)


class MemberByIdNumber(PersonByIdNumber):
    model = FamilyMember

    def message(self, value):
        return _("No family member in your reach has this ID number.")


class VolunteerByIdNumber(PersonByIdNumber):
    model = Volunteer

    def message(self, value):
        return _("No volunteer in your reach has this ID number.")


class FundByName(Lookup):
    """A fund by its name, and its year when the row gives one (column ``fund_year``)."""

    def key(self, value, row):
        year = (row or {}).get("fund_year")
        return str(value).strip(), CountWidget().clean(year)

    def load(self, actor, keys):
        pairs = []
        for chunk in _chunks({name for name, _year in keys}):
            for fund in reach.restrict(Fund.objects.all(), actor).filter(name__in=chunk).select_related("region"):
                pairs += [((fund.name, fund.year), fund), ((fund.name, None), fund)]
        return _by(pairs)

    def message(self, value):
        return _("No fund in your reach has this name (and year).")


class SiteByName(Lookup):
    def load(self, actor, keys):
        pairs = []
        for chunk in _chunks(keys):
            pairs += [(s.name, s) for s in reach.restrict(ServiceSite.objects.all(), actor).filter(name__in=chunk)]
        return _by(pairs)

    def message(self, value):
        return _("No service site in your reach has this name.")


class SessionByCourseAndDate(Lookup):
    """A training session by its course's title and the day it started (column ``session_date``)."""

    def key(self, value, row):
        return str(value).strip(), DateWidget().clean((row or {}).get("session_date"))

    def load(self, actor, keys):
        pairs = []
        for chunk in _chunks({title for title, _day in keys}):
            sessions = reach.restrict(TrainingSession.objects.all(), actor).filter(course__title__in=chunk)
            pairs += [((s.course.title, timezone.localtime(s.starts_at).date()), s)
                      for s in sessions.select_related("course")]
        return _by(pairs)

    def message(self, value):
        return _("No training session in your reach has this course on this date.")


class StaffByUsername(Lookup):
    def load(self, actor, keys):
        found = {}
        users = reach.restrict(get_user_model().objects.filter(is_active=True), actor)
        for chunk in _chunks(keys):
            found.update({u.username: u for u in users.filter(username__in=chunk).only("id", "username")})
        return found

    def message(self, value):
        return _("No staff member in your reach has the username %(username)s.") % {"username": str(value)[:40]}


class PolicyByNumber(Lookup):
    """A policy by its number and its insurer (column ``insurer``), the policies template's key."""

    def key(self, value, row):
        return str((row or {}).get("insurer") or "").strip(), str(value).strip()

    def load(self, actor, keys):
        pairs = []
        policies = reach.restrict(InsurancePolicy.objects.all(), actor).select_related("region")
        for chunk in _chunks({number for _insurer, number in keys}):
            pairs += [((p.insurer, p.policy_number), p) for p in policies.filter(policy_number__in=chunk)]
        return _by(pairs)

    def message(self, value):
        return _("No policy in your reach has this insurer and policy number.")


class CourseByTitle(Lookup):
    """A training course by its title, among the courses usable in the importer's reach."""

    def load(self, actor, keys):
        pairs = []
        for chunk in _chunks(keys):
            pairs += [(c.title, c) for c in reach.restrict(TrainingCourse.objects.all(), actor).filter(title__in=chunk)]
        return _by(pairs)

    def message(self, value):
        return _("No training course in your reach has this title.")


class ActivityByTitleAndDate(Lookup):
    """An activity by its title and the day it started (column ``activity_date``), and its region
    when the row gives one (column ``activity_region``): the same title may be held in two villages."""

    def key(self, value, row):
        row = row or {}
        code = str(row.get("activity_region") or "").strip()
        return str(value).strip(), DateWidget().clean(row.get("activity_date")), Region.normalize_code(code) or None

    def load(self, actor, keys):
        pairs = []
        activities = reach.restrict(Activity.objects.all(), actor).select_related("region").only(
            "id", "title", "starts_at", "status", "capacity", "region__code", "region__path")
        for chunk in _chunks({title for title, _day, _code in keys}):
            for activity in activities.filter(title__in=chunk):
                day = timezone.localtime(activity.starts_at).date()
                pairs += [((activity.title, day, activity.region.code), activity), ((activity.title, day, None), activity)]
        return _by(pairs)

    def message(self, value):
        return _("No activity in your reach has this title on this date.")


# ---- the base -------------------------------------------------------------------------------------

class NaturalKeyLoader(BaseInstanceLoader):
    """The record on file with a row's natural key (``RecordResource.natural_key``): all of them
    loaded before the first row, narrowed by the file's keys."""

    def __init__(self, resource, dataset=None):
        super().__init__(resource, dataset)
        self.seen = {}  # key -> sheet row
        model = resource._meta.model
        self.key_fields = [model._meta.get_field(name) for name in resource.natural_key]
        self.keys = [resource.row_key(row) for row in dataset.dict]  # by dataset row, from 0
        keys = {key for key in self.keys if key is not None}
        self.existing = {}
        if keys:
            self.existing = self._load(model, keys)
            visible = set()
            for chunk in _chunks([obj.pk for obj in self.existing.values()]):
                visible.update(reach.restrict(model.objects.filter(pk__in=chunk), resource.actor).values_list(
                    "pk", flat=True))
            self.outside = {key for key, obj in self.existing.items() if obj.pk not in visible}
        else:
            self.outside = set()

    def _load(self, model, keys):
        """Every record whose key is among ``keys``: filtered on each key field whose values in the
        file are few, then matched exactly in Python."""
        keys = list(keys)
        first = self.key_fields[0]
        found = {}
        for chunk in _chunks({key[0] for key in keys}):
            condition = models.Q(**{f"{first.attname}__in": chunk})
            for index, field in enumerate(self.key_fields[1:], start=1):
                values = {key[index] for key in keys}
                if None not in values and len(values) <= 200:
                    condition &= models.Q(**{f"{field.attname}__in": values})
            for obj in model.objects.filter(condition):
                found[self.resource.key_of(obj)] = obj
        return found

    def get_instance(self, row):
        """The record on file with the row's key; a key met on an earlier row or matching a record
        outside reach is left with the resource, reported beside the row's other problems."""
        self.resource.key_problem = None
        key = self.keys[self.resource.row_index - 1]
        if key is None:
            return None
        number = self.resource.sheet_row
        first = self.seen.setdefault(key, number)
        if first != number:
            self.resource.key_problem = ValidationError(
                _("The same record is already on row %(row)s.") % {"row": first}, code="duplicate")
            return None
        if key in self.outside:
            self.resource.key_problem = ValidationError(
                _("This row needs an administrator's review before it can be imported."), code="needs_review")
            return None
        return self.existing.get(key)


class QuietRowResult(RowResult):
    """A row's outcome without the record's ``str()``: nothing reads it, and a record's ``str()``
    may translate a label or follow a relation for every row of the file."""

    def add_instance_info(self, instance):
        if instance is not None:
            self.object_id = getattr(instance, "pk", None)


class RecordResource(resources.Resource):
    """A template's columns and rules; see the module docstring. Subclasses declare ``Column``s,
    ``natural_key`` (model attribute names), ``fixed`` (values every row gets, e.g. the kind of a
    disbursement) and optionally ``check_record(record)`` for rules across columns."""

    natural_key = ()
    fixed = {}

    class Meta:
        use_bulk = True
        batch_size = 1000
        skip_diff = True
        instance_loader_class = NaturalKeyLoader
        import_id_fields = ()  # the natural key (NaturalKeyLoader) finds the record on file
        clean_model_instances = True

    def __init__(self, *, actor, numbers=()):
        super().__init__()
        self.actor = actor
        self.numbers = list(numbers)  # sheet row of each dataset row
        self.row_index = self.sheet_row = 0
        self.key_problem = None
        self.problems = []
        self.created, self.updated = [], []
        model = self._meta.model
        self.hidden = set(privacy.hidden_for(actor, model, [f.attribute for f in self.columns() if f.attribute]))

    @classmethod
    def columns(cls):
        return [field for field in cls.fields.values() if isinstance(field, Column)]

    def key_column(self):
        """The column a problem with the whole record is reported in: the first one writing its key."""
        by_attribute = {f.attribute: f.column_name for f in self.columns() if f.attribute}
        return next((by_attribute[a] for a in self.natural_key if a in by_attribute), self.columns()[0].column_name)

    # ---- the row's natural key
    def _key_value(self, field, value):
        if isinstance(value, models.Model):
            return value.pk
        if value is None and not field.null:
            return ""
        return value

    def key_of(self, obj):
        model = self._meta.model
        return tuple(self._key_value(f, getattr(obj, f.attname)) for f in map(model._meta.get_field, self.natural_key))

    def row_key(self, row):
        """The natural key a row names, or None when a part of it cannot be read (its cell's problem
        is reported when the row is imported)."""
        model = self._meta.model
        by_attribute = {f.attribute: f for f in self.columns() if f.attribute}
        parts = []
        for name in self.natural_key:
            field = model._meta.get_field(name)
            if name in self.fixed:
                value = self.fixed[name]
            elif name in by_attribute:
                try:
                    value = by_attribute[name].clean(row)
                except (ValueError, ValidationError):
                    return None
            else:
                value = field.get_default()
            parts.append(self._key_value(field, value))
        return tuple(parts)

    # ---- import-export's hooks
    def before_import(self, dataset, **kwargs):
        rows = list(dataset.dict)
        for field in self.columns():
            if isinstance(field.widget, Lookup):
                field.widget.prepare(self.actor, [row.get(field.column_name) for row in rows], rows)

    def before_import_row(self, row, **kwargs):
        self.row_index = kwargs["row_number"]
        self.sheet_row = self.numbers[self.row_index - 1]

    def get_instance(self, instance_loader, row):
        return instance_loader.get_instance(row)

    def init_instance(self, row=None):
        return self._meta.model(**self.fixed)

    def after_init_instance(self, instance, new, row, **kwargs):
        self._before = None if new else self._values(instance)

    def _values(self, instance):
        return {f.attname: getattr(instance, f.attname) for f in self._meta.model._meta.concrete_fields}

    def import_instance(self, instance, row, **kwargs):
        errors = {}
        for field in self.columns():
            if not field.attribute:  # read by another column's lookup; its own cell checked here
                try:
                    field.clean(row)
                except RowProblem as exc:
                    errors[field.column_name] = ValidationError(str(exc), code=exc.code)
                continue
            if field.attribute in self.hidden and not _blank(row.get(field.column_name)):
                errors[field.column_name] = ValidationError(_("Your role does not record this field."),
                                                            code="not_allowed")
                continue
            try:
                self.import_field(field, instance, row, **kwargs)
            except RowProblem as exc:
                errors[field.column_name] = ValidationError(str(exc), code=exc.code)
            except ValueError as exc:
                errors[field.column_name] = ValidationError(str(exc), code="invalid")
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        # On record with the same values: nothing to write (a file uploaded again changes nothing).
        return not import_validation_errors and self._before is not None and self._before == self._values(instance)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        # The model's own field checks, without their per-row queries: references were resolved in
        # reach already, and the natural key stands for the unique checks.
        errors = dict(import_validation_errors or {})
        if self.key_problem is not None:
            errors.setdefault(self.key_column(), []).append(self.key_problem)
        columns = {f.attribute: f.column_name for f in self.columns() if f.attribute}
        written = {name for name, column in columns.items() if column not in errors}
        model = self._meta.model
        exclude = {f.name for f in model._meta.fields if f.is_relation or f.name not in written}
        try:
            instance.clean_fields(exclude=exclude)
        except ValidationError as exc:
            for name, problems in exc.error_dict.items():
                errors.setdefault(columns.get(name, name), problems)
        if not errors:
            for column, message in self.check_record(instance).items():
                errors[column] = ValidationError(message, code="invalid")
        if errors:
            raise ValidationError(errors)

    def check_record(self, record):
        """{column: message} for the rules across columns; none by default."""
        return {}

    def import_row(self, row, instance_loader, **kwargs):
        row_result = super().import_row(row, instance_loader, **kwargs)
        if row_result.validation_error is not None:
            self._problems_of(row_result.validation_error)
        return row_result

    def _problems_of(self, error):
        headings = {f.column_name: str(f.heading) for f in self.columns()}
        for key, found in (error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.error_list}).items():
            column = headings.get(key) or headings.get(self.key_column())
            for problem in found:
                problem = problem if isinstance(problem, ValidationError) else ValidationError(problem)
                for item in problem.error_list:
                    message = item.message % item.params if item.params else item.message
                    self.problems.append(Problem(self.sheet_row, column, str(message), item.code or "invalid"))

    @classmethod
    def get_row_result_class(cls):
        return QuietRowResult

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        self._bulk_write(self.create_instances, self.created, dry_run, result, raise_errors,
                         lambda objects: self._meta.model.objects.bulk_create(objects, batch_size=batch_size))

    def bulk_update(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        self._bulk_write(self.update_instances, self.updated, dry_run, result, raise_errors,
                         lambda objects: self._meta.model.objects.bulk_update(
                             objects, self.get_bulk_update_fields(), batch_size=batch_size))

    def _bulk_write(self, pending, written, dry_run, result, raise_errors, write):
        """Write ``pending`` (a check writes nothing, not even to roll it back), in a savepoint so
        that a constraint violated meanwhile leaves the transaction usable for the answer."""
        objects = list(pending)
        pending.clear()
        if dry_run or not objects:
            return
        try:
            with transaction.atomic():
                write(objects)
        except IntegrityError as exc:
            self.handle_import_error(result, exc, raise_errors)
            return
        written += objects

    def get_bulk_update_fields(self):
        return [f.name for f in self._meta.model._meta.concrete_fields
                if not f.primary_key and f.name not in self.natural_key]


class ThroughServices:
    """Rows written one by one through the domain's services (their rules, their audit) instead of
    in bulk: ``create_record(instance)`` and ``change_record(original, instance)`` return the saved
    record. The check still reports every rule by row and column before anything is written, as
    ``check_record`` calls the same rules; a service refusing at the write means another door
    saved the record meanwhile, and the file is refused whole as such."""

    def after_init_instance(self, instance, new, row, **kwargs):
        super().after_init_instance(instance, new, row, **kwargs)
        if not new:
            self.originals[instance.pk] = copy.copy(instance)

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        self._bulk_write(self.create_instances, self.created, dry_run, result, raise_errors,
                         lambda objects: self._each(objects, self.create_record))

    def bulk_update(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        self._bulk_write(self.update_instances, self.updated, dry_run, result, raise_errors,
                         lambda objects: self._each(objects, lambda o: self.change_record(self.originals[o.pk], o)))

    @staticmethod
    def _each(objects, write):
        try:
            objects[:] = [write(obj) for obj in objects]
        except ValidationError as exc:
            raise IntegrityError(str(exc)) from exc

    def _problems_from(self, error, columns):
        """``error`` of a model rule or a service, keyed by field, as {column: [messages]}."""
        found = {}
        for name, problems in error.message_dict.items():
            found.setdefault(columns.get(name, self.key_column()), []).extend(problems)
        return found


class RecordTemplate(ImportTemplate):
    """A template whose rows are records of one model, read by a ``RecordResource``; a write is
    audited as ``reports.import.<kind>``."""

    def __init__(self, kind, title, resource_class):
        self.kind, self.title, self.resource_class = kind, title, resource_class

    @property
    def columns(self):
        return self.resource_class.columns()

    def permitted(self, actor):
        model = self.resource_class._meta.model
        label = f"{model._meta.app_label}.%s_{model._meta.model_name}"
        return actor.has_perm(label % "add") and actor.has_perm(label % "change")

    def run(self, *, actor, upload, commit=False):
        if not self.permitted(actor):
            raise PermissionDenied
        budget = _Budget()
        keys = [c.column_name for c in self.columns]
        dataset, numbers = tablib.Dataset(headers=keys), []
        for number, record in _rows(upload, self.columns, budget):
            dataset.append([record.get(key, "") for key in keys])
            numbers.append(number)
        resource = self.resource_class(actor=actor, numbers=numbers)
        result = ImportResult(rows=len(numbers))
        model = self.resource_class._meta.model
        with transaction.atomic():
            if commit:
                # Two uploads of one file at once would each find its rows new.
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"import:{self.kind}".encode())])
            outcome = resource.import_data(dataset, dry_run=not commit, use_transactions=True, raise_errors=False,
                                           rollback_on_validation_errors=True)
            if outcome.has_errors():
                errors = outcome.base_errors or [e for _row, found in outcome.row_errors() for e in found]
                if isinstance(errors[0].error, IntegrityError):
                    # Written meanwhile by another door (the API, the admin): the file is still whole.
                    raise ImportFileError(_("Some of these records were saved by someone else meanwhile; upload "
                                            "the file again."), code="conflict") from errors[0].error
                raise errors[0].error
            budget.check()
            result.problems = sorted(resource.problems, key=lambda p: p.row)
            totals = outcome.totals
            result.matched = totals[RowResult.IMPORT_TYPE_SKIP] + totals[RowResult.IMPORT_TYPE_UPDATE]
            result.created = {"created": totals[RowResult.IMPORT_TYPE_NEW], "updated": totals[RowResult.IMPORT_TYPE_UPDATE]}
            if commit and not result.problems:
                if resource.created or resource.updated:
                    audit_log(actor=actor, event=f"reports.import.{self.kind}",
                              objects=resource.created + resource.updated, region_path=actor.reach_path,
                              after={"created": len(resource.created), "updated": len(resource.updated),
                                     "unchanged": totals[RowResult.IMPORT_TYPE_SKIP], "model": model._meta.label_lower})
                result.committed = True
            elif not commit:
                result.created = {}
        return result


# ---- the templates --------------------------------------------------------------------------------

FILE_NUMBER = gettext_lazy("file number")
ID_NUMBER = gettext_lazy("ID number")
# Consolation is no disbursement: a visit, with its cash and goods, is the visits template's row.
DISBURSEMENT_KINDS = {"特扶金": "assistance_payment",
                      "特别扶助金": "assistance_payment", "扶助金": "assistance_payment", "志愿者补贴": "volunteer_support",
                      "资助": "grant", "救助": "grant", "其他": "other"}


def _fund_columns():
    return {
        "fund": Column(gettext_lazy("fund"), "fund", FundByName(), required=True, example="2025年慰问金"),
        "fund_year": Column(gettext_lazy("fund year"), None, CountWidget(), example="2025"),
    }


class PaidOut:
    """What every template of disbursements shares: who recorded it, and its recipient. A payment to
    a member is a payment to the member's family too, as ``disbursement_record`` keeps it: the
    figures by family category read the family."""

    def row_key(self, row):
        key = super().row_key(row)
        if key is None or "member" not in self.natural_key:
            return key
        family, member = self.natural_key.index("family"), self.natural_key.index("member")
        if key[family] is None and key[member] is not None:
            person = next(c for c in self.columns() if c.attribute == "member").clean(row)
            key = key[:family] + (person.family_id,) + key[family + 1:]
        return key

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if getattr(instance, "member_id", None) and not instance.family_id:
            instance.family_id = instance.member.family_id

    def before_save_instance(self, instance, row, **kwargs):
        if instance.pk is None:
            instance.recorded_by = self.actor

    def check_record(self, record):
        columns = {f.attribute: f.column_name for f in self.columns() if f.attribute}
        first = next(columns[a] for a in ("family", "member", "volunteer", "recipient_name") if a in columns)
        if not (record.family_id or record.member_id or record.volunteer_id or record.recipient_name):
            return {first: _("Name the recipient: a file number, an ID number or a name.")}
        if record.member_id and record.family_id and record.member.family_id != record.family_id:
            return {columns["member"]: _("This person is not a member of that family.")}
        return {}


class DisbursementResource(PaidOut, RecordResource):
    """Money or goods paid out of a fund, of every kind, to a family, a member, a volunteer or
    someone outside the system."""

    fund = _fund_columns()["fund"]
    fund_year = _fund_columns()["fund_year"]
    kind = Column(gettext_lazy("kind"), "kind", ChoiceWidget(Disbursement.Kind.choices, DISBURSEMENT_KINDS),
                  required=True, example="特扶金")
    file_number = Column(FILE_NUMBER, "family", FamilyByFileNumber(), example="ZP-2026-0001")
    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), text=True, example="350623196803050024")
    volunteer_id_number = Column(gettext_lazy("volunteer's ID number"), "volunteer", VolunteerByIdNumber(), text=True)
    recipient_name = Column(gettext_lazy("other recipient"), "recipient_name")
    amount = Column(gettext_lazy("amount or value (CNY)"), "amount", AmountWidget(), required=True, example="1000.00")
    goods = Column(gettext_lazy("goods"), "goods")
    paid_on = Column(gettext_lazy("paid on"), "paid_on", DateWidget(), required=True, example="2025-01-20")
    period = Column(gettext_lazy("period"), "period", example="2025H1")
    description = Column(gettext_lazy("description"), "description")

    natural_key = ("fund", "kind", "family", "member", "volunteer", "recipient_name", "paid_on", "period")

    class Meta:
        model = Disbursement


class VolunteerSupportResource(PaidOut, RecordResource):
    """Support paid to volunteers (补贴), one row a payment."""

    fund = _fund_columns()["fund"]
    fund_year = _fund_columns()["fund_year"]
    volunteer_id_number = Column(gettext_lazy("volunteer's ID number"), "volunteer", VolunteerByIdNumber(),
                                 required=True, text=True, example="350623199001010028")
    amount = Column(gettext_lazy("amount (CNY)"), "amount", AmountWidget(), required=True, example="300.00")
    paid_on = Column(gettext_lazy("paid on"), "paid_on", DateWidget(), required=True, example="2025-05-05")
    period = Column(gettext_lazy("period"), "period", example="2025Q2")
    description = Column(gettext_lazy("description"), "description")

    natural_key = ("fund", "kind", "volunteer", "paid_on", "period")
    fixed = {"kind": Disbursement.Kind.VOLUNTEER_SUPPORT}

    class Meta:
        model = Disbursement


class GrantResource(PaidOut, RecordResource):
    """Grants (幸福工程 and the like): to a family, a member or a mother outside the system, with
    what the grant gained."""

    fund = _fund_columns()["fund"]
    fund_year = _fund_columns()["fund_year"]
    file_number = Column(FILE_NUMBER, "family", FamilyByFileNumber())
    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), text=True)
    recipient_name = Column(gettext_lazy("other recipient"), "recipient_name", example="陈美华")
    amount = Column(gettext_lazy("amount (CNY)"), "amount", AmountWidget(), required=True, example="5000.00")
    paid_on = Column(gettext_lazy("paid on"), "paid_on", DateWidget(), required=True, example="2025-03-01")
    description = Column(gettext_lazy("description"), "description", example="养殖项目")
    outcome = Column(gettext_lazy("outcome"), "outcome", example="年增收")
    outcome_amount = Column(gettext_lazy("outcome amount (CNY)"), "outcome_amount", AmountWidget(), example="8000.00")

    natural_key = ("fund", "kind", "family", "member", "recipient_name", "paid_on")
    fixed = {"kind": Disbursement.Kind.GRANT}

    class Meta:
        model = Disbursement


class FundResource(RecordResource):
    name = Column(pgettext_lazy("thing", "name"), "name", required=True, example="2025年慰问金")
    programme = Column(gettext_lazy("programme"), "programme", ChoiceWidget(Fund.Programme.choices, {
        "特别扶助": "special_assistance", "慰问": "consolation", "保险": "insurance", "志愿者": "volunteer_support",
        "幸福工程": "happiness_project", "体检": "health", "其他": "other"}), required=True, example="慰问")
    year = Column(gettext_lazy("year"), "year", CountWidget(), required=True, example="2025")
    budget = Column(gettext_lazy("budget (CNY)"), "budget", AmountWidget(), required=True, example="100000.00")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623")
    source = Column(gettext_lazy("source"), "source", example="县财政")

    natural_key = ("region", "programme", "year", "name")

    class Meta:
        model = Fund


class CheckupResource(RecordResource):
    """Health check-ups, free or paid (the figures count the free ones)."""

    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), required=True, text=True,
                       example="350623196803050024")
    date = Column(gettext_lazy("date"), "date", DateWidget(), required=True, example="2025-04-01")
    provider = Column(gettext_lazy("provider"), "provider", required=True, example="漳浦县医院")
    site = Column(gettext_lazy("site"), "site", SiteByName())
    is_free = Column(gettext_lazy("free of charge"), "is_free", YesNoWidget(default=True), example="是")
    cost = Column(gettext_lazy("cost (CNY)"), "cost", AmountWidget())
    findings = Column(gettext_lazy("findings"), "findings")

    natural_key = ("member", "date", "provider")

    class Meta:
        model = HealthCheckup

    def check_record(self, record):
        if record.is_free and record.cost:
            return {"cost": _("A free check-up has no cost.")}
        return {}


class SiteResource(RecordResource):
    kind = Column(gettext_lazy("kind"), "kind", ChoiceWidget(ServiceSite.Kind.choices, {
        "暖心家园": "warm_heart_home", "心理慰藉中心": "psych_aid_centre", "心理咨询中心": "counselling_centre",
        "幸福驿站": "happiness_station", "向日葵亲子小屋": "parent_child_hut", "家庭健康服务中心": "family_health_centre"}),
        required=True, example="暖心家园")
    name = Column(pgettext_lazy("thing", "name"), "name", required=True, example="东门村暖心家园")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623100201")
    address = Column(gettext_lazy("address"), "address", example="东门村1号")
    capacity = Column(gettext_lazy("capacity"), "capacity", CountWidget(), example="30")
    opened_on = Column(gettext_lazy("opened on"), "opened_on", DateWidget(), example="2024-06-01")
    closed_on = Column(gettext_lazy("closed on"), "closed_on", DateWidget())
    partner = Column(gettext_lazy("partner organisation"), "partner")
    phone = Column(gettext_lazy("phone"), "phone", text=True)

    natural_key = ("region", "kind", "name")

    class Meta:
        model = ServiceSite

    def check_record(self, record):
        if record.opened_on and record.closed_on and record.closed_on < record.opened_on:
            return {"closed_on": _("A site closes after it opens.")}
        return {}


class PolicyResource(RecordResource):
    """Insurance policies with their premiums (the roster of insured people is its own template)."""

    insurer = Column(gettext_lazy("insurer"), "insurer", required=True, example="中国人寿")
    policy_number = Column(gettext_lazy("policy number"), "policy_number", required=True, text=True,
                           example="P2025-0001")
    product_kind = Column(gettext_lazy("product"), "product_kind", ChoiceWidget(InsurancePolicy.ProductKind.choices),
                          required=True, example="意外伤害保险")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623")
    starts_on = Column(gettext_lazy("starts on"), "starts_on", DateWidget(), required=True, example="2025-01-01")
    ends_on = Column(gettext_lazy("ends on"), "ends_on", DateWidget(), required=True, example="2025-12-31")
    premium = Column(gettext_lazy("premium (CNY)"), "premium", AmountWidget(), required=True, example="6800.00")
    daily_allowance = Column(gettext_lazy("daily allowance (CNY)"), "daily_allowance", AmountWidget())
    max_days = Column(gettext_lazy("maximum days per policy year"), "max_days", CountWidget())
    fund = Column(gettext_lazy("fund"), "fund", FundByName())
    fund_year = Column(gettext_lazy("fund year"), None, CountWidget())
    status = Column(gettext_lazy("status"), "status", ChoiceWidget(InsurancePolicy.Status.choices, {
        "生效": "active", "有效": "active", "草稿": "draft", "到期": "expired", "已到期": "expired"}), example="生效")

    natural_key = ("insurer", "policy_number")

    class Meta:
        model = InsurancePolicy

    def init_instance(self, row=None):
        return InsurancePolicy(status=InsurancePolicy.Status.ACTIVE)

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        # An empty status keeps the record's (a new policy is active).
        if field.attribute == "status" and _blank(row.get(field.column_name)):
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def check_record(self, record):
        if record.starts_on and record.ends_on and record.ends_on <= record.starts_on:
            return {"ends_on": _("A policy ends after it starts.")}
        return {}


class TrainingAttendanceResource(RecordResource):
    """Who came to a training session (a volunteer enrolled once per session)."""

    course = Column(gettext_lazy("course"), "session", SessionByCourseAndDate(), required=True, example="陪伴技能培训")
    session_date = Column(gettext_lazy("training date"), None, DateWidget(), required=True, example="2025-04-10")
    volunteer_id_number = Column(gettext_lazy("volunteer's ID number"), "volunteer", VolunteerByIdNumber(),
                                 required=True, text=True, example="350623199001010028")
    status = Column(gettext_lazy("attended or absent"), "status", ChoiceWidget(Enrollment.Status.choices, {
        "出席": "attended", "参加": "attended", "到场": "attended", "缺席": "no_show", "未到": "no_show"}),
        required=True, example="出席")

    natural_key = ("session", "volunteer")

    class Meta:
        model = Enrollment

    def check_record(self, enrollment):
        if enrollment.session.status == TrainingSession.Status.CANCELLED:
            return {"course": _("This session was cancelled.")}
        return {}

    def before_save_instance(self, instance, row, **kwargs):
        if instance.status == Enrollment.Status.ATTENDED and instance.attended_at is None:
            instance.attended_at = instance.session.starts_at


class ConsolationVisitResource(ThroughServices, RecordResource):
    """Consolation visits (慰问): to a family or one of its members, by a staff member or an
    organisation, with cash, goods or nothing."""

    file_number = Column(FILE_NUMBER, "family", FamilyByFileNumber(), required=True, example="ZP-2026-0001")
    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), text=True, example="350623196803050024")
    visited_on = Column(gettext_lazy("visited on"), "visited_on", DateWidget(), required=True, example="2025-01-20")
    visitor = Column(gettext_lazy("visiting staff member"), "visitor", StaffByUsername(), text=True)
    visiting_party = Column(gettext_lazy("visiting organisation or person"), "visiting_party", example="县计生协会")
    cash = Column(gettext_lazy("cash (CNY)"), "cash", AmountWidget(blank=Decimal("0.00")), example="1000.00")
    goods = Column(gettext_lazy("goods given"), "goods", example="米油")
    goods_value = Column(gettext_lazy("value of the goods (CNY)"), "goods_value", AmountWidget(blank=Decimal("0.00")),
                         example="200.00")
    occasion = Column(gettext_lazy("occasion"), "occasion", example="春节")
    fund = Column(gettext_lazy("fund"), "fund", FundByName(), example="2025年慰问金")
    fund_year = _fund_columns()["fund_year"]
    notes = Column(gettext_lazy("notes"), "notes")

    natural_key = ("family", "member", "visited_on", "visitor", "visiting_party")

    class Meta:
        model = ConsolationVisit

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.originals = {}

    def check_record(self, record):
        columns = {f.attribute: f.column_name for f in self.columns() if f.attribute}
        try:
            record.clean()
        except ValidationError as exc:
            return {column: problems[0] for column, problems in self._problems_from(exc, columns).items()}
        return {}

    def create_record(self, visit):
        return services.consolation_visit_record(
            actor=self.actor, **{name: getattr(visit, name) for name in ("family", *services.VISIT_FIELDS)})

    def change_record(self, original, visit):
        changes = {name: getattr(visit, name) for name in services.VISIT_FIELDS
                   if getattr(visit, original._meta.get_field(name).attname)
                   != getattr(original, original._meta.get_field(name).attname)}
        return services.consolation_visit_change(actor=self.actor, visit=original, **changes)


class PremiumPaymentResource(ThroughServices, RecordResource):
    """Premiums paid: for a whole policy, or for one insured person (an empty amount is that
    person's premium on the roster)."""

    insurer = Column(gettext_lazy("insurer"), None, required=True, example="中国人寿")
    policy_number = Column(gettext_lazy("policy number"), "policy", PolicyByNumber(), required=True, text=True,
                           example="P2025-0001")
    id_number = Column(gettext_lazy("insured person's ID number"), "member", MemberByIdNumber(), text=True,
                       example="350623196803050024")
    paid_on = Column(gettext_lazy("premium paid on"), "paid_on", DateWidget(), required=True, example="2025-01-20")
    amount = Column(gettext_lazy("amount (CNY)"), "amount", AmountWidget(), example="120.00")
    reference = Column(gettext_lazy("receipt or transfer number"), "reference", text=True)

    natural_key = ("policy", "member", "paid_on")

    class Meta:
        model = PremiumPayment

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.originals, self.roster, self.refused = {}, {}, {}

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        lookup = next(f.widget for f in self.columns() if isinstance(f.widget, PolicyByNumber))
        policies = {p.pk for p in lookup.found.values() if not isinstance(p, list)}
        for chunk in _chunks(policies):
            self.roster.update({(i.policy_id, i.member_id): i for i in InsuredPerson.objects.filter(
                policy__in=chunk).only("id", "policy_id", "member_id", "premium")})

    def import_instance(self, instance, row, **kwargs):
        self.refused = {}
        super().import_instance(instance, row, **kwargs)
        # The amount before the row is compared with the record: an empty cell is the roster's premium.
        # The rules' verdict waits for check_record: a payment on record as the row gives it is matched,
        # not refused, even when its policy has been cancelled since.
        columns = {f.attribute: f.column_name for f in self.columns() if f.attribute}
        try:
            instance.amount = services.premium_payment_amount(policy=instance.policy, amount=instance.amount,
                                                              member=instance.member, roster=self.roster)
        except ValidationError as exc:
            self.refused = {column: problems[0] for column, problems in self._problems_from(exc, columns).items()}

    def check_record(self, record):
        return self.refused

    def create_record(self, payment):
        return services.premium_payment_record(actor=self.actor, policy=payment.policy, member=payment.member,
                                               paid_on=payment.paid_on, amount=payment.amount,
                                               reference=payment.reference)

    def change_record(self, original, payment):
        return services.premium_payment_change(actor=self.actor, payment=original, amount=payment.amount,
                                               reference=payment.reference)


class CheckInResource(ThroughServices, RecordResource):
    """Contacts with families (联系记录), as the contact persons' logbooks keep them: written through
    ``checkin_record``, so a family's first contact makes its case active and moves its due dates."""

    file_number = Column(FILE_NUMBER, "family", FamilyByFileNumber(), required=True, example="ZP-2026-0001")
    occurred_at = Column(gettext_lazy("contact date and time"), "occurred_at", DateTimeWidget(), required=True,
                         example="2025-03-05 10:00")
    channel = Column(gettext_lazy("channel"), "channel", ChoiceWidget(CheckIn.Channel.choices, {
        "入户": "home_visit", "走访": "home_visit", "上门": "home_visit", "电话联系": "phone", "微信": "wechat_video",
        "视频": "wechat_video", "活动": "activity", "就诊": "clinic"}), required=True, example="入户走访")
    physical_state = Column(gettext_lazy("physical state"), "physical_state", ChoiceWidget(
        CheckIn.PhysicalState.choices, {"好": "good", "一般": "fair", "差": "poor"}))
    mental_state = Column(gettext_lazy("mental state"), "mental_state", ChoiceWidget(
        CheckIn.MentalState.choices, {"稳定": "stable", "低落": "low", "焦虑": "anxious", "抑郁": "depressed"}))
    difficulties = Column(gettext_lazy("difficulties"), "difficulties")
    needs = Column(gettext_lazy("needs and requests"), "needs")
    help_given = Column(gettext_lazy("help given"), "help_given")

    natural_key = ("family", "occurred_at", "channel")
    DETAILS = ("physical_state", "mental_state", "difficulties", "needs", "help_given")

    class Meta:
        model = CheckIn

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.originals = {}

    def check_record(self, record):
        if record.occurred_at and record.occurred_at > timezone.now() + datetime.timedelta(minutes=5):
            return {"occurred_at": _("A check-in cannot be in the future.")}
        return {}

    def create_record(self, checkin):
        return family_services.checkin_record(
            actor=self.actor, family=checkin.family, channel=checkin.channel, occurred_at=checkin.occurred_at,
            **{name: getattr(checkin, name) for name in self.DETAILS})

    def change_record(self, original, checkin):
        # What was found on a contact is corrected in place; when and how it happened is its key.
        changed = [name for name in self.DETAILS if getattr(checkin, name) != getattr(original, name)]
        checkin.save(update_fields=[*changed, "updated_at"] if changed else None)
        audit_log(actor=self.actor, event="families.checkin.changed", obj=checkin, family_id=checkin.family_id,
                  region_path=checkin.family.region_path, after={"fields": changed})
        return checkin


class ClaimResource(RecordResource):
    """Insurance claims (理赔) of insured people, with their settlement as the insurer paid it."""

    insurer = Column(gettext_lazy("insurer"), None, required=True, example="中国人寿")
    policy_number = Column(gettext_lazy("policy number"), "policy", PolicyByNumber(), required=True, text=True,
                           example="P2025-0001")
    id_number = Column(gettext_lazy("insured person's ID number"), "member", MemberByIdNumber(), required=True,
                       text=True, example="350623196803050024")
    incident_date = Column(gettext_lazy("incident or admission date"), "incident_date", DateWidget(), required=True,
                           example="2025-03-02")
    hospital_days = Column(gettext_lazy("days in hospital"), "hospital_days", CountWidget(), example="5")
    amount_claimed = Column(gettext_lazy("amount claimed (CNY)"), "amount_claimed", AmountWidget(), required=True,
                            example="500.00")
    status = Column(gettext_lazy("claim status"), "status", ChoiceWidget(InsuranceClaim.Status.choices, {
        "已赔付": "settled", "已理赔": "settled", "赔付": "settled", "已结案": "settled", "拒赔": "rejected",
        "已拒赔": "rejected", "审核中": "under_review", "已申请": "filed", "已报案": "filed"}), required=True,
        example="已赔付")
    amount_settled = Column(gettext_lazy("amount settled (CNY)"), "amount_settled", AmountWidget(), example="500.00")
    filed_on = Column(gettext_lazy("filed on"), "filed_on", DateWidget(), example="2025-03-10")
    settled_on = Column(gettext_lazy("settled on"), "settled_on", DateWidget(), example="2025-04-01")
    diagnosis = Column(gettext_lazy("diagnosis"), "diagnosis")

    natural_key = ("policy", "member", "incident_date")

    class Meta:
        model = InsuranceClaim

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.roster = set()

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        lookup = next(f.widget for f in self.columns() if isinstance(f.widget, PolicyByNumber))
        policies = {p.pk for p in lookup.found.values() if not isinstance(p, list)}
        for chunk in _chunks(policies):
            self.roster.update(InsuredPerson.objects.filter(policy__in=chunk).values_list("policy_id", "member_id"))

    def import_instance(self, instance, row, **kwargs):
        try:
            super().import_instance(instance, row, **kwargs)
        finally:  # an empty cell keeps the record's day; a new claim's is its incident's
            if instance.filed_on is None:
                instance.filed_on = (self._before or {}).get("filed_on") or instance.incident_date

    def check_record(self, claim):
        policy, settled = claim.policy, claim.status == InsuranceClaim.Status.SETTLED
        if policy.status not in SPENT_POLICY_STATUSES:
            return {"policy_number": _("Claims can only be filed against an active or expired policy.")}
        if not policy.starts_on <= claim.incident_date <= policy.ends_on:
            return {"incident_date": _("The incident is outside the policy period.")}
        if (policy.pk, claim.member_id) not in self.roster:
            return {"id_number": _("This member is not insured by this policy.")}
        if policy.product_kind == InsurancePolicy.ProductKind.NURSING_ALLOWANCE:
            if not claim.hospital_days:
                return {"hospital_days": _("Give the number of days in hospital.")}
            if policy.daily_allowance is not None:
                days = claim.hospital_days if policy.max_days is None else min(claim.hospital_days, policy.max_days)
                cap = policy.daily_allowance * days
                if claim.amount_claimed > cap:
                    return {"amount_claimed": _("At most %(cap)s CNY can be claimed (%(days)s days).") % {
                        "cap": cap, "days": days}}
        if settled and (claim.amount_settled is None or claim.settled_on is None):
            return {"amount_settled": _("A settled claim gives the amount settled and the day it was settled.")}
        if not settled and (claim.amount_settled is not None or claim.settled_on is not None):
            return {"status": _("Only a settled claim has an amount settled and a settlement day.")}
        if settled and claim.amount_settled > claim.amount_claimed:
            return {"amount_settled": _("The settled amount cannot exceed the amount claimed.")}
        if settled and claim.settled_on < claim.incident_date:
            return {"settled_on": _("A claim is settled after its incident.")}
        return {}


ACTIVITY_KINDS = {"集体庆生": "birthday", "庆生": "birthday", "生日会": "birthday", "知识讲座": "lecture", "讲座": "lecture",
                  "文体活动": "recreation", "文体": "recreation", "交流联谊": "gathering", "联谊": "gathering",
                  "入户关怀": "home_care", "特色活动": "local", "N": "local"}


class ActivityResource(RecordResource):
    """"5+N" activities held (集体庆生, 知识讲座, 文体活动, 交流联谊, 入户关怀 and local ones)."""

    title = Column(gettext_lazy("title"), "title", required=True, example="东门村三月集体庆生")
    category = Column(gettext_lazy("category"), "category", ChoiceWidget(Activity.Category.choices, ACTIVITY_KINDS),
                      required=True, example="集体庆生")
    local_name = Column(gettext_lazy("local activity name"), "local_name")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623100201")
    site = Column(gettext_lazy("site"), "site", SiteByName(), example="东门村暖心家园")
    starts_at = Column(gettext_lazy("starts at"), "starts_at", DateTimeWidget(), required=True,
                       example="2025-03-15 09:00")
    ends_at = Column(gettext_lazy("ends at"), "ends_at", DateTimeWidget(), required=True, example="2025-03-15 11:30")
    capacity = Column(gettext_lazy("capacity"), "capacity", CountWidget(), example="30")
    status = Column(gettext_lazy("status"), "status", ChoiceWidget(Activity.Status.choices, {
        "已完成": "completed", "完成": "completed", "已举办": "completed", "已取消": "cancelled", "取消": "cancelled",
        "计划": "planned", "报名中": "open"}), example="已完成")
    description = Column(gettext_lazy("description"), "description")

    natural_key = ("region", "title", "starts_at")

    class Meta:
        model = Activity

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        # An empty status keeps the record's (a new activity is planned, as one entered by hand).
        if field.attribute == "status" and _blank(row.get(field.column_name)):
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def check_record(self, activity):
        if activity.starts_at and activity.ends_at and activity.ends_at <= activity.starts_at:
            return {"ends_at": _("An activity ends after it starts.")}
        if activity.category == Activity.Category.LOCAL and not activity.local_name:
            return {"local_name": _("A local signature activity needs its local name.")}
        return {}


class AttendanceResource(RecordResource):
    """Who came to an activity: a family member (by ID number) or a volunteer, once each."""

    activity = Column(gettext_lazy("activity"), "activity", ActivityByTitleAndDate(), required=True,
                      example="东门村三月集体庆生")
    activity_date = Column(gettext_lazy("activity date"), None, DateWidget(), required=True, example="2025-03-15")
    activity_region = Column(gettext_lazy("activity's division code"), None, text=True)
    id_number = Column(ID_NUMBER, "member", MemberByIdNumber(), text=True, example="350623196803050024")
    volunteer_id_number = Column(gettext_lazy("volunteer's ID number"), "volunteer", VolunteerByIdNumber(), text=True)

    natural_key = ("activity", "member", "volunteer")

    class Meta:
        model = ActivityAttendance

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seated = None  # activity id -> family members counted so far (on record, then the file's)

    def check_record(self, attendance):
        if (attendance.member_id is None) == (attendance.volunteer_id is None):
            return {"id_number": _("Check in either a family member or a volunteer.")}
        activity = attendance.activity
        if activity.status == Activity.Status.CANCELLED:
            return {"activity": _("This activity was cancelled.")}
        if attendance.member_id is not None:
            if attendance.member.is_deceased:
                return {"id_number": _("This member is recorded as deceased.")}
            if activity.capacity is not None and attendance.pk is None:
                if self.seated is None:
                    self.seated = self._seated()
                self.seated[activity.pk] = self.seated.get(activity.pk, 0) + 1
                if self.seated[activity.pk] > activity.capacity:
                    return {"activity": _("The activity is full.")}
        return {}

    def _seated(self):
        """Family members on record at the file's activities of limited capacity (one query)."""
        lookup = next(f.widget for f in self.columns() if isinstance(f.widget, ActivityByTitleAndDate))
        limited = {a.pk for a in lookup.found.values() if not isinstance(a, list) and a.capacity is not None}
        return dict(ActivityAttendance.objects.filter(activity__in=limited, member__isnull=False).order_by()
                    .values_list("activity").annotate(n=models.Count("pk")))

    def before_save_instance(self, instance, row, **kwargs):
        if instance.pk is None:  # ticked on the list when it was held
            instance.checked_in_at = instance.activity.starts_at


class TrainingSessionResource(RecordResource):
    """Training sessions held (volunteer skills, 青春健康 facilitators, …), of a course in the catalogue."""

    course = Column(gettext_lazy("course"), "course", CourseByTitle(), required=True, example="陪伴技能培训")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623")
    starts_at = Column(gettext_lazy("starts at"), "starts_at", DateTimeWidget(), required=True,
                       example="2025-04-10 09:00")
    ends_at = Column(gettext_lazy("ends at"), "ends_at", DateTimeWidget(), required=True, example="2025-04-10 16:00")
    venue = Column(gettext_lazy("venue"), "venue", required=True, example="县计生协会议室")
    trainer = Column(gettext_lazy("trainer"), "trainer")
    capacity = Column(gettext_lazy("capacity"), "capacity", CountWidget(), required=True, example="30")
    status = Column(gettext_lazy("status"), "status", ChoiceWidget(TrainingSession.Status.choices, {
        "已完成": "completed", "完成": "completed", "已举办": "completed", "已取消": "cancelled", "取消": "cancelled",
        "已安排": "scheduled", "计划": "scheduled"}), example="已完成")

    natural_key = ("course", "region", "starts_at")

    class Meta:
        model = TrainingSession

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        # An empty status keeps the record's (a new session is scheduled).
        if field.attribute == "status" and _blank(row.get(field.column_name)):
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def check_record(self, session):
        if session.starts_at and session.ends_at and session.ends_at <= session.starts_at:
            return {"ends_at": _("A session ends after it starts.")}
        if not session.capacity:
            return {"capacity": _("Enter a whole number, such as 30.")}
        return {}


TEMPLATES = {template.kind: template for template in (
    FamiliesTemplate(),
    VolunteersTemplate(),
    RosterTemplate(),
    RecordTemplate("disbursements", gettext_lazy("disbursements of every kind"), DisbursementResource),
    RecordTemplate("volunteer-support", gettext_lazy("volunteer support"), VolunteerSupportResource),
    RecordTemplate("grants", gettext_lazy("grants"), GrantResource),
    RecordTemplate("funds", gettext_lazy("funds"), FundResource),
    RecordTemplate("checkups", gettext_lazy("health check-ups"), CheckupResource),
    RecordTemplate("sites", gettext_lazy("service sites"), SiteResource),
    RecordTemplate("policies", gettext_lazy("insurance policies"), PolicyResource),
    RecordTemplate("training", gettext_lazy("training attendance"), TrainingAttendanceResource),
    RecordTemplate("visits", gettext_lazy("consolation visits"), ConsolationVisitResource),
    RecordTemplate("premiums", gettext_lazy("premium payments"), PremiumPaymentResource),
    RecordTemplate("claims", gettext_lazy("insurance claims"), ClaimResource),
    RecordTemplate("checkins", gettext_lazy("check-ins"), CheckInResource),
    RecordTemplate("activities", gettext_lazy("activities"), ActivityResource),
    RecordTemplate("attendance", gettext_lazy("activity attendance"), AttendanceResource),
    RecordTemplate("training-sessions", gettext_lazy("training sessions"), TrainingSessionResource),
)}

