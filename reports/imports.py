"""Importing the spreadsheets people already keep, on django-import-export: the contract every
template keeps, the base its resources share, and the people's templates (families with members,
volunteers, insurance rosters). The templates of the records behind the yearly figures are declared
in ``reports.import_kinds`` on the same base, which its docstring describes.

Every upload is checked in full before anything is written: ``run(..., commit=False)`` returns
every problem by row and column (wrong ID check digit, unknown region code, a person twice in the
file or already living in another family, a missing field) and writes nothing. With
``commit=True`` a file with any problem is refused the same way; a clean one is written in one
transaction (all or nothing).

People are checked set-based over the whole file (``PeopleResource``): a family spans rows, and a
person is matched across families by the blind index of their ID number, alive or not, in reach or
not. A person on record is matched and never changed by a file. Bulk writes bypass ``save()``: the
derived columns (pinyin, blind indexes, birth date and sex) come from the models' ``fill_derived``.

An upload is capped (``IMPORT_MAX_ROWS`` rows, ``IMPORT_MAX_UNPACKED_BYTES`` once unzipped, checked
before parsing, and ``IMPORT_MAX_SECONDS``); an answer lists the first ``IMPORT_PROBLEMS_SHOWN``
problems and counts the rest by kind.

No oracle: a row naming a person (or a file number) registered outside the importer's reach says
only that it needs an administrator's review. Each such collision is audited, and a user whose
files name more than ``IMPORT_COLLISIONS_PER_DAY`` such people in a day gets no more answers row by
row: their imports stop until the next day and their manager is told.

Files are read with openpyxl in read-only mode, row by row; the dataset holds the rows' text.
"""
import copy
import dataclasses
import datetime
import io
import re
import time
import zipfile
import zlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import tablib
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override, pgettext_lazy
from import_export import fields, resources, widgets
from import_export.instance_loaders import BaseInstanceLoader
from import_export.results import RowResult
from openpyxl import Workbook, load_workbook

from casemgmt.core import privacy, reach
from casemgmt.core.audit import audit_log
from casemgmt.core.crypto import blind_index
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.idcard import parse_id_number
from casemgmt.core.models import AuditEvent, Notification, Region
from families.models import Category, Family, FamilyMember, FamilyStatusChange
from families.services import cadence_rules_for
from services.models import InsurancePolicy, InsuredPerson
from volunteers.models import Volunteer

BATCH = 1000
YES = {"是", "yes", "y", "1", "true", "已故", "死亡"}
NO = {"", "否", "no", "n", "0", "false"}


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    message: str
    code: str = "invalid"

    def as_dict(self):
        return {"row": self.row, "column": self.column, "message": self.message, "code": self.code}


@dataclass
class ImportResult:
    rows: int = 0
    problems: list = dataclasses.field(default_factory=list)  # every problem, by row
    created: dict = dataclasses.field(default_factory=dict)  # what -> number written
    matched: int = 0  # rows that named someone already on record
    committed: bool = False

    @property
    def ok(self):
        return not self.problems

    @property
    def shown_problems(self):
        """The first problems, as many as an answer lists."""
        return self.problems[:settings.IMPORT_PROBLEMS_SHOWN]

    @property
    def problem_counts(self):
        """Every problem counted by kind (column and code), the most frequent first, each with the
        message of its first row as an example."""
        kinds = {}
        for problem in self.problems:
            kind = kinds.setdefault((problem.column, problem.code), {
                "column": problem.column, "code": problem.code, "count": 0, "example": problem.message})
            kind["count"] += 1
        return sorted(kinds.values(), key=lambda kind: -kind["count"])

    def as_dict(self):
        return {"rows": self.rows, "ok": self.ok, "committed": self.committed, "created": self.created,
                "matched": self.matched, "problem_count": len(self.problems), "problem_counts": self.problem_counts,
                "problems": [p.as_dict() for p in self.shown_problems]}


class ImportFileError(ValidationError):
    pass


class ImportsPaused(PermissionDenied):
    """The user's files named too many people registered outside their reach today: imports stop
    until tomorrow (and their manager is told)."""

    def __init__(self):
        super().__init__(_("Your imports are paused until tomorrow: today's files named too many people registered "
                           "outside your reach. Your manager has been told and will review them with you."))


class _Budget:
    """The time one upload may take of a web worker (``IMPORT_MAX_SECONDS``), checked row by row."""

    def __init__(self):
        self.deadline = time.monotonic() + settings.IMPORT_MAX_SECONDS

    def check(self):
        if time.monotonic() > self.deadline:
            raise ImportFileError(_("Checking this file takes too long; split it into smaller files."), code="too_slow")


# ---- the contract every template keeps ---------------------------------------------------------------
class ImportTemplate:
    """One kind of spreadsheet a clerk can import, all with the same contract: a downloadable
    template (``template()``: Chinese headings, an example row), and ``run()``: a check that lists
    every row's problems by row and column and writes nothing, or with ``commit`` a write of a file
    without problems in one transaction; a file uploaded twice writes nothing the second time; every
    row is checked against the importer's reach. Kinds are listed in ``reports.import_kinds.TEMPLATES``."""

    kind = ""  # the slug in the URLs
    title = ""  # lazy translated
    columns = ()  # Column-like: key, heading, required, text, example
    parameters = ()  # names of the extra values a run takes from the request (the roster's policy)

    def template(self):
        return template_workbook(self.columns)

    def run(self, *, actor, upload, commit=False, **parameters):
        raise NotImplementedError


def template_workbook(columns):
    """An empty workbook with the translated headings, text-formatted ID/phone columns and an example row."""
    book = Workbook()
    sheet = book.active
    sheet.title = str(_("Import"))
    sheet.append([str(c.heading) for c in columns])
    sheet.append([c.example for c in columns])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = 20
        if column.text:
            for row in range(2, 1002):
                sheet.cell(row=row, column=index).number_format = "@"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---- reading ---------------------------------------------------------------------------------------
def _text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime.datetime):
        # A date cell is a midnight; a time of day is kept for the columns that read one.
        return value.date().isoformat() if value.time() == datetime.time.min else f"{value:%Y-%m-%d %H:%M}"
    return str(value).strip()


def _header_map(columns, header):
    """Column key -> position, accepting the heading in Chinese or English, or the key itself."""
    names = {}
    for column in columns:
        for language in ("zh-hans", "en"):
            with override(language):
                names[str(column.heading).strip().lower()] = column.key
        names[column.key] = column.key
    positions = {}
    for index, cell in enumerate(header or ()):
        key = names.get(_text(cell).lower())
        if key and key not in positions:
            positions[key] = index
    missing = [str(c.heading) for c in columns if c.required and c.key not in positions]
    if missing:
        raise ImportFileError(_("The first row lacks the columns: %(columns)s.") % {"columns": "、".join(missing)})
    return positions


def _not_a_workbook():
    return ImportFileError(_("This file is not an Excel workbook (.xlsx)."), code="not_a_workbook")


def _too_many_rows():
    return ImportFileError(_("This file has more than %(rows)s rows; split it into smaller files.") % {
        "rows": settings.IMPORT_MAX_ROWS}, code="too_many_rows")


def _check_unpacked_size(upload):
    """Refuse a workbook whose parts unzip to more than ``IMPORT_MAX_UNPACKED_BYTES``, before any
    XML is parsed: a few hundred kilobytes of zip can hold gigabytes of sheet. The sizes are the ones
    the archive declares; Python's zipfile never inflates a part beyond its declared size."""
    try:
        with zipfile.ZipFile(upload) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _not_a_workbook() from exc
    if len(parts) > 10_000 or sum(part.file_size for part in parts) > settings.IMPORT_MAX_UNPACKED_BYTES:
        raise ImportFileError(_("This workbook unpacks to more than %(size)s MB; split it into smaller files.") % {
            "size": settings.IMPORT_MAX_UNPACKED_BYTES // (1024 * 1024)}, code="too_large")


def _rows(upload, columns, budget=None):
    """(row number, {key: text}) for every non-empty data row of the first sheet, streamed; at most
    ``IMPORT_MAX_ROWS`` of them, within ``budget``'s time."""
    budget = budget or _Budget()
    if hasattr(upload, "seek"):
        upload.seek(0)
    _check_unpacked_size(upload)
    if hasattr(upload, "seek"):
        upload.seek(0)
    try:
        book = load_workbook(upload, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise _not_a_workbook() from exc
    try:
        if not book.worksheets:
            raise _not_a_workbook()
        sheet = book.worksheets[0]
        # The sheet's declared extent, when it has one, refuses a long file before reading it.
        if (sheet.max_row or 0) > settings.IMPORT_MAX_ROWS * 2 + 1:
            raise _too_many_rows()
        rows = sheet.iter_rows(values_only=True)
        positions = _header_map(columns, next(rows, None))
        count = 0
        for number, values in enumerate(rows, start=2):
            budget.check()
            record = {key: _text(values[index]) if index < len(values) else "" for key, index in positions.items()}
            if any(record.values()):
                count += 1
                if count > settings.IMPORT_MAX_ROWS:
                    raise _too_many_rows()
                yield number, record
    finally:
        book.close()


def _choice_map(choices, synonyms):
    mapping = dict(synonyms)
    for value, label in choices:
        mapping[value] = value
        for language in ("zh-hans", "en"):
            with override(language):
                mapping[str(label).strip().lower()] = value
    return mapping


def _chunks(items, size=BATCH):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---- collisions with records outside the importer's reach ------------------------------------------
COLLISION_EVENTS = ("families.import.collision", "volunteers.import.collision")


def _today_start():
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time.min))


def _collisions_today(actor):
    """The records outside their reach that ``actor``'s files named today: {(object type, id)}.
    Counted from the audit trail, so that the same file checked again counts its people once."""
    rows = AuditEvent.objects.filter(actor=actor, event__in=COLLISION_EVENTS, at__gte=_today_start())
    return {(object_type, pk) for object_type, ids in rows.values_list("object_type", "object_ids") for pk in ids}


def _refuse_if_paused(actor):
    if len(_collisions_today(actor)) > settings.IMPORT_COLLISIONS_PER_DAY:
        raise ImportsPaused()


def _record_collisions(actor, event, collisions):
    """Audit the collisions of one check — ``{model: {id: [row, …]}}`` — in the importer's region
    (no ID number: the ids of the records hit and the rows), then stop the user when today's count
    passes the limit: raises ``ImportsPaused`` after telling their managers, and the file's answer
    never says which rows collided."""
    collisions = {model: hits for model, hits in collisions.items() if hits}
    if not collisions:
        return
    before = _collisions_today(actor)
    for model, hits in collisions.items():
        rows = sorted({row for found in hits.values() for row in found})
        audit_log(actor=actor, event=event, objects=[model(pk=pk) for pk in sorted(hits)], region_path=actor.reach_path,
                  after={"collisions": len(hits), "rows": rows[:100]})
    after = before | {(model._meta.label_lower, pk) for model, hits in collisions.items() for pk in hits}
    limit = settings.IMPORT_COLLISIONS_PER_DAY
    if len(after) > limit:
        _notify_managers_of_collisions(actor, len(after))
        raise ImportsPaused()


def _notify_managers_of_collisions(actor, count):
    from casemgmt.core.notifications import notify
    from casemgmt.security.services import managers_of

    day = timezone.localdate()
    for manager in managers_of(actor):
        with override(manager.language or None):
            title = _("Imports of %(user)s stopped for review") % {"user": actor}
            body = _("Today's import files of %(user)s named %(count)s people registered outside their reach. Their "
                     "imports are paused until tomorrow; the audit trail lists the records.") % {
                "user": actor, "count": count}
        notify(recipient=manager, kind="reports.import.collisions", title=title, body=body,
               level=Notification.Level.WARNING, dedup_key=f"import-collisions:{actor.pk}:{day}:{manager.pk}")


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


class LivingMemberByIdNumber(MemberByIdNumber):
    living_only = True

    def message(self, value):
        return _("No living family member in your reach has this ID number.")


class VolunteerByIdNumber(PersonByIdNumber):
    model = Volunteer

    def message(self, value):
        return _("No volunteer in your reach has this ID number.")


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
        errors = {column: list(found.error_list if isinstance(found, ValidationError) else found)
                  for column, found in (import_validation_errors or {}).items()}
        for column, problem in self.row_problems().items():
            errors.setdefault(column, []).append(problem)
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

    def row_problems(self):
        """{column: ValidationError} the whole file found in the current row (its key met before)."""
        return {self.key_column(): self.key_problem} if self.key_problem is not None else {}

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

    def run(self, *, actor, upload, commit=False, **parameters):
        if not self.permitted(actor):
            raise PermissionDenied
        return self.checked(actor=actor, upload=upload, commit=commit, **parameters)[0]

    def checked(self, *, actor, upload, commit=False, **parameters):
        """The file's result and the resource that read it (its findings beyond the answer)."""
        budget = _Budget()
        keys = [c.column_name for c in self.columns]
        dataset, numbers = tablib.Dataset(headers=keys), []
        for number, record in _rows(upload, self.columns, budget):
            dataset.append([record.get(key, "") for key in keys])
            numbers.append(number)
        resource = self.resource_class(actor=actor, numbers=numbers, **parameters)
        result = ImportResult(rows=len(numbers))
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
            if commit and not result.problems:
                result.created, objects, details = self.written(resource, totals)
                if objects:
                    audit_log(actor=actor, event=f"reports.import.{self.kind}", objects=objects,
                              region_path=actor.reach_path, after=details)
                result.committed = True
        return result, resource

    def written(self, resource, totals):
        """What a write made: the answer's ``created``, the records its audit row names and its details."""
        model = self.resource_class._meta.model
        return ({"created": totals[RowResult.IMPORT_TYPE_NEW], "updated": totals[RowResult.IMPORT_TYPE_UPDATE]},
                resource.created + resource.updated,
                {"created": len(resource.created), "updated": len(resource.updated),
                 "unchanged": totals[RowResult.IMPORT_TYPE_SKIP], "model": model._meta.label_lower})


# ---- people: families with their members, volunteers, insurance rosters ---------------------------

FILE_NUMBER = gettext_lazy("file number")
ID_NUMBER = gettext_lazy("ID number")
RELATIONS = {"父亲": "father", "母亲": "mother", "子女": "child", "独生子女": "child", "儿子": "child", "女儿": "child",
             "孙子女": "grandchild", "其他": "other"}


class IdNumberWidget(widgets.Widget):
    """A citizen ID number, normalised, its check character checked."""

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return ""
        try:
            return parse_id_number(str(value)).number
        except ValidationError as exc:
            raise RowProblem(exc.messages[0], exc.error_list[0].code or "invalid") from exc


class RowLoader(BaseInstanceLoader):
    """The record on file a row names, as its resource found it for the whole file (``on_file``)."""

    def get_instance(self, row):
        return self.resource.on_file.get(self.resource.row_index - 1)


class PeopleResource(RecordResource):
    """Rows that each name a person by ID number, checked against everyone on record at once: a
    person on record in reach is matched (never changed by a file); one outside reach needs an
    administrator's review, and the collision is audited (``collisions``) after the check. Rows
    found on file are in ``on_file``, by dataset row; problems found across rows in ``found``."""

    class Meta:
        instance_loader_class = RowLoader

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_file, self.found, self.collisions = {}, {}, {}

    def problem(self, index, column, message, code="invalid"):
        self.found.setdefault(index, {}).setdefault(column, ValidationError(str(message), code=code))

    def review(self, index, column, model, pk):
        """The one answer for a row that collides with a record outside reach: it says neither where
        the record is nor whether the person lives."""
        self.problem(index, column, _("This row needs an administrator's review before it can be imported."),
                     "needs_review")
        self.collisions.setdefault(model, {}).setdefault(pk, []).append(self.numbers[index])

    def people(self, rows):
        """[(dataset row, ID-number digest)] of the rows whose number reads, a person twice a problem."""
        seen, people = {}, []
        for index, row in enumerate(rows):
            try:
                number = IdNumberWidget().clean(row.get("id_number"))
            except RowProblem:
                continue  # reported by its column
            if not number:
                continue
            digest = blind_index(number, "id_number")
            if digest in seen:
                self.problem(index, "id_number", _("The same person is already on row %(row)s.") % {
                    "row": self.numbers[seen[digest]]}, "duplicate")
            else:
                seen[digest] = index
                people.append((index, digest))
        return people

    def row_problems(self):
        return self.found.get(self.row_index - 1, {})

    def skip_row(self, instance, original, row, import_validation_errors=None):
        # A person on record is matched, never changed by a file.
        return not import_validation_errors and instance.pk is not None and not self.row_problems()

    def before_save_instance(self, instance, row, **kwargs):
        instance.fill_derived()


class FamilyMemberResource(PeopleResource):
    """Families with their members, one row a person: the first row of a file number with a category
    and a division code registers a new family; every row adds its person, unless they live in that
    family already."""

    file_number = Column(FILE_NUMBER, None, required=True, text=True, example="ZP-2026-0001")
    category = Column(gettext_lazy("category"), None, ChoiceWidget(Category.choices, {"失独": "bereaved",
                                                                                       "伤残": "disabled"}),
                      example="失独")
    region_code = Column(gettext_lazy("division code"), None, RegionByCode(), text=True, example="350623100201")
    address = Column(gettext_lazy("address"), None, example="绥安镇东门村1号")
    name = Column(pgettext_lazy("person", "name"), "name", required=True, example="王秀英")
    relation = Column(gettext_lazy("relation"), "relation", ChoiceWidget(FamilyMember.Relation.choices, RELATIONS),
                      required=True, example="母亲")
    id_number = Column(ID_NUMBER, "id_number", IdNumberWidget(), required=True, text=True, example="350623196803050024")
    phone = Column(gettext_lazy("phone"), "phone", text=True, example="13800000001")
    deceased = Column(gettext_lazy("deceased"), "is_deceased", YesNoWidget(), example="否")

    class Meta:
        model = FamilyMember

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.families = {}  # file number -> the family on record in reach, or the new one (unsaved until written)
        self.firsts = {}  # file number -> [first row, the row that describes a new family]
        self.written_families = []
        self.cadences = {}

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        rows = list(dataset.dict)
        for index, row in enumerate(rows):
            file_number, category, code = (str(row.get(key) or "").strip() for key in ("file_number", "category",
                                                                                       "region_code"))
            if not file_number:
                continue
            first = self.firsts.setdefault(file_number, [index, index])
            described = rows[first[1]]
            if first[0] == index:
                continue
            if (category and described.get("category") and category != described["category"]) or (
                    code and described.get("region_code") and code != described["region_code"]):
                self.problem(index, "category", _("Differs from row %(row)s of the same family.") % {
                    "row": self.numbers[first[1]]}, "differs")
            elif not (described.get("category") and described.get("region_code")) and category and code:
                first[1] = index
        existing = {}
        for chunk in _chunks(self.firsts):
            existing.update({f.file_number: f for f in Family.objects.filter(file_number__in=chunk).only(
                "id", "file_number", "region_path")})
        people = self.people(rows)
        on_record = {}  # digest -> [(member id, family id, family's file number, deceased)], alive or not, anywhere
        for chunk in _chunks(digest for _index, digest in people):
            for digest, *found in FamilyMember.objects.filter(id_number_index__in=chunk).values_list(
                    "id_number_index", "id", "family_id", "family__file_number", "is_deceased"):
                on_record.setdefault(digest, []).append(found)
        in_reach = set()
        for chunk in _chunks({f.pk for f in existing.values()} | {r[1] for found in on_record.values() for r in found}):
            in_reach.update(reach.restrict(Family.objects.filter(pk__in=chunk), self.actor).values_list("pk", flat=True))
        for file_number, (index, described) in self.firsts.items():
            family = existing.get(file_number)
            if family is None:
                for key in ("category", "region_code"):
                    if not str(rows[described].get(key) or "").strip():
                        self.problem(index, key, _("This field is required."), "required")
            elif family.pk in in_reach:
                self.families[file_number] = family
            else:
                self.review(index, "file_number", Family, family.pk)
        for index, digest in people:
            found = on_record.get(digest, ())
            outside = [member for member, family, _file, _dead in found if family not in in_reach]
            for member in outside:
                self.review(index, "id_number", FamilyMember, member)
            if outside:
                continue
            file_number = str(rows[index].get("file_number") or "").strip()
            here = [(member, family) for member, family, file, dead in found if not dead and file == file_number]
            if here:
                self.on_file[index] = FamilyMember(pk=here[0][0], family_id=here[0][1])
            elif any(not dead for _member, _family, _file, dead in found):
                # In the importer's reach: they may know where, and the answer helps them.
                self.problem(index, "id_number", _("This person is already registered, alive, in another family."),
                             "registered_elsewhere")
        self.rows = rows

    def family_of(self, file_number):
        """The family a new person joins: on record, or registered from the row that describes it
        (None when that row's category or division code does not read: its row says so, and the
        file is not written)."""
        if file_number not in self.families:
            row = self.rows[self.firsts[file_number][1]]
            fields = {f.column_name: f for f in self.columns()}
            try:
                region, category = fields["region_code"].clean(row), fields["category"].clean(row)
            except RowProblem:
                return None
            family = Family(file_number=file_number, category=category, region=region, region_path=region.path,
                            address=fields["address"].clean(row), registered_on=timezone.localdate(),
                            residence=("rural" if region.is_rural else "urban") if region.urban_rural_code else "rural")
            contact_days, visit_days = self.cadence(family)
            family.next_checkin_due = family.registered_on + datetime.timedelta(days=contact_days)
            family.next_home_visit_due = family.registered_on + datetime.timedelta(days=visit_days)
            self.families[file_number] = family
        return self.families[file_number]

    def cadence(self, family):
        """Days to the first contact and the first home visit, as ``family_register`` sets them (one
        lookup per region and risk level of the file)."""
        key = (family.region_path, family.risk_level)
        if key not in self.cadences:
            rule = cadence_rules_for(*key)
            self.cadences[key] = (rule.contact_interval_days, rule.home_visit_interval_days) if rule else (30, 90)
        return self.cadences[key]

    def before_save_instance(self, instance, row, **kwargs):
        super().before_save_instance(instance, row, **kwargs)
        instance.family = self.family_of(str(row.get("file_number") or "").strip())

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        def write(members):
            members[:] = [m for m in members if m.family is not None]
            new = list({id(m.family): m.family for m in members if m.family.pk is None}.values())
            self.write_families(new)
            FamilyMember.objects.bulk_create(members, batch_size=batch_size)

        self._bulk_write(self.create_instances, self.created, dry_run, result, raise_errors, write)

    def write_families(self, families):
        """New families as ``family_register`` records them: the first status, in bulk."""
        Family.objects.bulk_create(families)
        FamilyStatusChange.objects.bulk_create(
            FamilyStatusChange(family=f, to_status=f.status, changed_by=self.actor, reason=_("imported"))
            for f in families)
        self.written_families += families


class FamiliesTemplate(RecordTemplate):
    """Families with their members (a family spans rows; people are matched across families by
    their ID number, alive or not, in reach or not)."""

    collision_event = "families.import.collision"

    def __init__(self):
        super().__init__("families", gettext_lazy("families"), FamilyMemberResource)

    def permitted(self, actor):
        return actor.has_perm("families.add_family") and actor.has_perm("families.add_familymember")

    def run(self, *, actor, upload, commit=False, **parameters):
        if not self.permitted(actor):
            raise PermissionDenied
        _refuse_if_paused(actor)
        result, resource = self.checked(actor=actor, upload=upload, commit=commit, **parameters)
        _record_collisions(actor, self.collision_event, resource.collisions)
        return result

    def written(self, resource, totals):
        families = resource.written_families
        return ({"families": len(families), "members": len(resource.created)}, families,
                {"families": len(families), "members": len(resource.created), "matched": totals[RowResult.IMPORT_TYPE_SKIP]})


def families_import(*, actor, upload, commit=False):
    """Check (and with ``commit``, import) a families-with-members file; one row per person."""
    return FAMILIES.run(actor=actor, upload=upload, commit=commit)


class VolunteerResource(PeopleResource):
    name = Column(pgettext_lazy("person", "name"), "name", required=True, example="林小梅")
    id_number = Column(ID_NUMBER, "id_number", IdNumberWidget(), required=True, text=True, example="350623199001010028")
    phone = Column(gettext_lazy("phone"), "phone", text=True, example="13900000002")
    region_code = Column(gettext_lazy("division code"), "region", RegionByCode(), required=True, text=True,
                         example="350623")
    professional_title = Column(gettext_lazy("professional qualification"), "professional_title", example="心理咨询师")

    class Meta:
        model = Volunteer

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        people = self.people(list(dataset.dict))
        on_record = {}  # digest -> [volunteer id]
        for chunk in _chunks(digest for _index, digest in people):
            for digest, pk in Volunteer.objects.filter(id_number_index__in=chunk).values_list("id_number_index", "id"):
                on_record.setdefault(digest, []).append(pk)
        in_reach = set()
        for chunk in _chunks(pk for found in on_record.values() for pk in found):
            in_reach.update(reach.restrict(Volunteer.objects.filter(pk__in=chunk), self.actor).values_list("pk", flat=True))
        for index, digest in people:
            outside = [pk for pk in on_record.get(digest, ()) if pk not in in_reach]
            for pk in outside:
                self.review(index, "id_number", Volunteer, pk)
            if digest in on_record and not outside:
                self.on_file[index] = Volunteer(pk=on_record[digest][0])


class VolunteersTemplate(FamiliesTemplate):
    collision_event = "volunteers.import.collision"

    def __init__(self):
        RecordTemplate.__init__(self, "volunteers", gettext_lazy("volunteers"), VolunteerResource)

    def permitted(self, actor):
        return actor.has_perm("volunteers.add_volunteer")

    def written(self, resource, totals):
        return ({"volunteers": len(resource.created)}, resource.created,
                {"volunteers": len(resource.created), "matched": totals[RowResult.IMPORT_TYPE_SKIP]})


class RosterResource(RecordResource):
    """The people of an insurer's roster, added to one policy: each a living family member in reach."""

    name = Column(pgettext_lazy("person", "name"), None, required=True, example="王秀英")
    id_number = Column(ID_NUMBER, "member", LivingMemberByIdNumber(), required=True, text=True,
                       example="350623196803050024")
    premium = Column(gettext_lazy("premium for this person (CNY)"), "premium", AmountWidget(), example="100.00")

    class Meta:
        model = InsuredPerson
        instance_loader_class = RowLoader

    def __init__(self, *, policy, **kwargs):
        super().__init__(**kwargs)
        self.policy = policy
        self.on_file, self.found = {}, {}

    def row_problems(self):
        return self.found.get(self.row_index - 1, {})

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        lookup = next(f.widget for f in self.columns() if f.column_name == "id_number")
        members, seen = {}, {}  # dataset row -> member; member -> first dataset row
        for index, row in enumerate(dataset.dict):
            try:
                member = lookup.clean(row.get("id_number"), row)
            except RowProblem:
                continue  # reported by its column
            if member is None:
                continue
            if member.pk in seen:
                self.found[index] = {"id_number": ValidationError(_("The same person is already on row %(row)s.") % {
                    "row": self.numbers[seen[member.pk]]}, code="duplicate")}
            else:
                seen[member.pk] = index
                members[index] = member
        on_roster = {}
        for chunk in _chunks({m.pk for m in members.values()}):
            on_roster.update({i.member_id: i for i in self.policy.roster.filter(member__in=chunk)})
        self.on_file = {index: on_roster[m.pk] for index, m in members.items() if m.pk in on_roster}

    def init_instance(self, row=None):
        return InsuredPerson(policy=self.policy)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        # Someone already on the roster stays as they are.
        return not import_validation_errors and instance.pk is not None

    def check_record(self, insured):
        name = str(self.current_row.get("name") or "").strip()
        if name and insured.member.name != name:
            return {"name": _("The name differs from the record of this ID number.")}
        return {}

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        self.current_row = row


class RosterTemplate(RecordTemplate):
    parameters = ("policy",)

    def __init__(self):
        super().__init__("roster", gettext_lazy("insurance roster"), RosterResource)

    def permitted(self, actor):
        return actor.has_perm("services.add_insuredperson")

    def run(self, *, actor, upload, commit=False, policy=None):
        if not self.permitted(actor):
            raise PermissionDenied
        found = reach.restrict(InsurancePolicy.objects.all(), actor).filter(
            pk=policy if str(policy or "").isdigit() else None).select_related("region").first()
        if found is None:
            raise OutOfReachError()
        return self.checked(actor=actor, upload=upload, commit=commit, policy=found)[0]

    def written(self, resource, totals):
        return ({"insured": len(resource.created)}, [resource.policy],
                {"added": len(resource.created), "matched": totals[RowResult.IMPORT_TYPE_SKIP]})


FAMILIES = FamiliesTemplate()
PEOPLE_TEMPLATES = (FAMILIES, VolunteersTemplate(), RosterTemplate())
# The columns of the people's templates, as their files are written (a benchmark builds its own).
FAMILY_COLUMNS = tuple(FamilyMemberResource.columns())
VOLUNTEER_COLUMNS = tuple(VolunteerResource.columns())
ROSTER_COLUMNS = tuple(RosterResource.columns())
