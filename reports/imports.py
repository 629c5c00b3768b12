"""Importing the spreadsheets people already keep: families with members, volunteers, insurance rosters.

Every template keeps the contract of ``ImportTemplate`` (template, check, all-or-nothing write, a
second upload changing nothing, reach on every row); the templates of the records behind the yearly
figures are declared in ``reports.import_kinds`` on django-import-export, and share this module's
reading of the file, its limits and its answer. Families are checked here, set-based over the whole
file: a family spans rows, and a person is matched across families by their ID number.

Every upload is checked in full before anything is written: ``*_import(..., commit=False)`` returns
every problem by row and column (wrong ID check digit, unknown region code, a person twice in the
file or already living in another family, a missing field) and writes nothing. With
``commit=True`` a file with any problem is refused the same way; a clean one is written in one
transaction (all or nothing), people matched to existing ones by the blind index of their ID number.

An upload is capped (``IMPORT_MAX_ROWS`` rows, ``IMPORT_MAX_UNPACKED_BYTES`` once unzipped, checked
before parsing, and ``IMPORT_MAX_SECONDS``); an answer lists the first ``IMPORT_PROBLEMS_SHOWN``
problems and counts the rest by kind.

No oracle: a row naming a person (or a file number) registered outside the importer's reach says
only that it needs an administrator's review. Each such collision is audited, and a user whose
files name more than ``IMPORT_COLLISIONS_PER_DAY`` such people in a day gets no more answers row by
row: their imports stop until the next day and their manager is told.

Files are read with openpyxl in read-only mode, row by row, twice (check, then write in batches), so
memory holds the small per-row keys (file number, ID-number digest), not the sheet.
bulk_create bypasses ``save()``: pinyin, blind indexes, birth date and sex are computed here.
"""
import datetime
import io
import time
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override, pgettext_lazy
from openpyxl import Workbook, load_workbook
from pypinyin import Style, lazy_pinyin

from casemgmt.core import reach
from casemgmt.core.audit import audit_log
from casemgmt.core.crypto import blind_index
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.idcard import normalize_id_number, parse_id_number
from casemgmt.core.models import AuditEvent, Notification, Region
from families.models import Category, Family, FamilyMember, FamilyStatusChange
from families.services import cadence_rules_for
from services.models import InsurancePolicy, InsuredPerson
from volunteers.models import Volunteer

BATCH = 1000
YES = {"是", "yes", "y", "1", "true", "已故", "死亡"}
NO = {"", "否", "no", "n", "0", "false"}


@dataclass(frozen=True)
class Column:
    key: str
    heading: object  # lazy translated heading, as in the template
    required: bool = False
    text: bool = False  # formatted as text in the template (ID numbers, phones keep their digits)
    example: str = ""


FAMILY_COLUMNS = (
    Column("file_number", gettext_lazy("file number"), True, True, "ZP-2026-0001"),
    Column("category", gettext_lazy("category"), False, False, "失独"),
    Column("region_code", gettext_lazy("division code"), False, True, "350623100201"),
    Column("address", gettext_lazy("address"), False, False, "绥安镇东门村1号"),
    Column("name", pgettext_lazy("person", "name"), True, False, "王秀英"),
    Column("relation", gettext_lazy("relation"), True, False, "母亲"),
    Column("id_number", gettext_lazy("ID number"), True, True, "350623196803050024"),
    Column("phone", gettext_lazy("phone"), False, True, "13800000001"),
    Column("deceased", gettext_lazy("deceased"), False, False, "否"),
)
VOLUNTEER_COLUMNS = (
    Column("name", pgettext_lazy("person", "name"), True, False, "林小梅"),
    Column("id_number", gettext_lazy("ID number"), True, True, "350623199001010028"),
    Column("phone", gettext_lazy("phone"), False, True, "13900000002"),
    Column("region_code", gettext_lazy("division code"), True, True, "350623"),
    Column("professional_title", gettext_lazy("professional qualification"), False, False, "心理咨询师"),
)
ROSTER_COLUMNS = (
    Column("name", pgettext_lazy("person", "name"), True, False, "王秀英"),
    Column("id_number", gettext_lazy("ID number"), True, True, "350623196803050024"),
    Column("premium", gettext_lazy("premium for this person (CNY)"), False, False, "100.00"),
)


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
    problems: list = field(default_factory=list)  # every problem, by row
    created: dict = field(default_factory=dict)  # what -> number written
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


CATEGORY_VALUES = lambda: _choice_map(Category.choices, {"失独": "bereaved", "伤残": "disabled"})  # noqa: E731
RELATION_VALUES = lambda: _choice_map(FamilyMember.Relation.choices, {  # noqa: E731
    "父亲": "father", "母亲": "mother", "子女": "child", "独生子女": "child", "儿子": "child", "女儿": "child",
    "孙子女": "grandchild", "其他": "other"})


class _Checker:
    def __init__(self, columns):
        self.problems = []
        self.headings = {c.key: str(c.heading) for c in columns}
        self.required = [c.key for c in columns if c.required]

    def add(self, row, key, message, code="invalid"):
        self.problems.append(Problem(row, self.headings.get(key, key), str(message), code))

    def required_present(self, row, record, keys=None):
        ok = True
        for key in keys or self.required:
            if not record.get(key):
                self.add(row, key, _("This field is required."), "required")
                ok = False
        return ok

    def review(self, row, key):
        """The one answer for a row that collides with a record outside the importer's reach: it
        says neither where the record is nor whether the person lives."""
        self.add(row, key, _("This row needs an administrator's review before it can be imported."), "needs_review")

    def id_number(self, row, record):
        """The normalised number and its parsed facts, or None after recording the problem."""
        if not record.get("id_number"):
            return None
        try:
            return parse_id_number(record["id_number"])
        except ValidationError as exc:
            self.add(row, "id_number", exc.messages[0], exc.error_list[0].code or "invalid")
            return None


def _chunks(items, size=BATCH):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _regions(actor, codes):
    """code -> Region for the codes that exist and lie in the actor's reach (one query per 1,000)."""
    found = {}
    for chunk in _chunks({Region.normalize_code(c) for c in codes}):
        for region in Region.objects.filter(code__in=chunk):
            found[region.code] = region
    return found, {code: reach.region_within_reach(actor, region.path) for code, region in found.items()}


def _check_region(checker, row, code, regions, allowed):
    region = regions.get(Region.normalize_code(code))
    if region is None:
        checker.add(row, "region_code", _("Unknown division code %(code)s.") % {"code": code}, "unknown_region")
    elif not allowed[region.code]:
        checker.add(row, "region_code", _("This region is outside your reach."), "region_out_of_reach")
    return region


def _pinyin(name):
    return "".join(lazy_pinyin(name)).lower(), "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).lower()


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


# ---- families with members -------------------------------------------------------------------------
def families_import(*, actor, upload, commit=False):
    """Check (and with ``commit``, import) a families-with-members file; one row per person."""
    if not actor.has_perm("families.add_family") or not actor.has_perm("families.add_familymember"):
        raise PermissionDenied
    _refuse_if_paused(actor)
    budget = _Budget()
    checker = _Checker(FAMILY_COLUMNS)
    categories, relations = CATEGORY_VALUES(), RELATION_VALUES()
    result = ImportResult()
    families = {}  # file number -> (first row, category, region code)
    seen_ids = {}  # ID-number digest -> first row
    person_rows = []  # (row, file number, digest)
    region_rows = []  # (row, code)
    for number, record in _rows(upload, FAMILY_COLUMNS, budget):
        result.rows += 1
        checker.required_present(number, record)
        if record.get("relation") and record["relation"].lower() not in relations:
            checker.add(number, "relation", _("Unknown relation %(value)s.") % {"value": record["relation"]}, "unknown")
        if record.get("category") and record["category"].lower() not in categories:
            checker.add(number, "category", _("Unknown category %(value)s.") % {"value": record["category"]}, "unknown")
        if record.get("deceased", "").lower() not in YES | NO:
            checker.add(number, "deceased", _("Write yes or no."), "yes_or_no")
        file_number = record.get("file_number")
        if file_number:
            first = families.setdefault(file_number, (number, record.get("category"), record.get("region_code")))
            if first[0] != number and ((record.get("category") and first[1] and record["category"] != first[1])
                                       or (record.get("region_code") and first[2] and record["region_code"] != first[2])):
                checker.add(number, "category", _("Differs from row %(row)s of the same family.") % {"row": first[0]},
                            "differs")
            elif first[0] != number and not (first[1] and first[2]) and record.get("category") and record.get("region_code"):
                families[file_number] = (first[0], record["category"], record["region_code"])
        if record.get("region_code"):
            region_rows.append((number, record["region_code"]))
        info = checker.id_number(number, record)
        if info is not None:
            digest = blind_index(info.number, "id_number")
            if digest in seen_ids:
                checker.add(number, "id_number", _("The same person is already on row %(row)s.") % {"row": seen_ids[digest]},
                            "duplicate")
            else:
                seen_ids[digest] = number
                person_rows.append((number, file_number, digest))

    regions, allowed = _regions(actor, {code for _row, code in region_rows})
    for number, code in region_rows:
        _check_region(checker, number, code, regions, allowed)
    existing = {}
    for chunk in _chunks(families):
        existing.update({f.file_number: f for f in Family.objects.filter(file_number__in=chunk).only("id", "file_number",
                                                                                                   "region_path")})
    # People on record with the file's ID numbers, alive or not, in reach or not.
    on_record = {}  # digest -> [(member id, family id, family's file number, deceased)]
    for chunk in _chunks(digest for _row, _file, digest in person_rows):
        for digest, *found in FamilyMember.objects.filter(id_number_index__in=chunk).values_list(
                "id_number_index", "id", "family_id", "family__file_number", "is_deceased"):
            on_record.setdefault(digest, []).append(found)
    in_reach = set()
    for chunk in _chunks({f.pk for f in existing.values()} | {r[1] for found in on_record.values() for r in found}):
        in_reach.update(reach.restrict(Family.objects.filter(pk__in=chunk), actor).values_list("pk", flat=True))
    collided = {Family: {}, FamilyMember: {}}  # model -> {id outside reach: [rows]}
    for file_number, (row, category, code) in families.items():
        family = existing.get(file_number)
        if family is not None:
            if family.pk not in in_reach:
                checker.review(row, "file_number")
                collided[Family].setdefault(family.pk, []).append(row)
        else:
            checker.required_present(row, {"category": category, "region_code": code}, ["category", "region_code"])
    matched = set()
    for number, file_number, digest in person_rows:
        found = on_record.get(digest, ())
        outside = [member_id for member_id, family_id, _file, _dead in found if family_id not in in_reach]
        if outside:
            checker.review(number, "id_number")
            for member_id in outside:
                collided[FamilyMember].setdefault(member_id, []).append(number)
            continue
        living = [file for _id, _family, file, dead in found if not dead]
        if file_number in living:
            matched.add(digest)
        elif living:
            # In the importer's reach: they may know where, and the answer helps them.
            checker.add(number, "id_number", _("This person is already registered, alive, in another family."),
                        "registered_elsewhere")
    _record_collisions(actor, "families.import.collision", collided)
    result.problems = sorted(checker.problems, key=lambda p: p.row)
    result.matched = len(matched)
    if not commit or result.problems:
        return result

    today = timezone.localdate()
    with transaction.atomic():
        family_ids = {f: existing[f].pk for f in existing}
        cadence = {}
        new_family_ids = []
        created_members = 0
        pending = []
        for _number, record in _rows(upload, FAMILY_COLUMNS, budget):
            pending.append(record)
            if len(pending) >= BATCH:
                created_members += _write_family_batch(actor, pending, family_ids, new_family_ids, regions, categories,
                                                       relations, matched, cadence, today)
                pending = []
        if pending:
            created_members += _write_family_batch(actor, pending, family_ids, new_family_ids, regions, categories,
                                                   relations, matched, cadence, today)
        audit_log(actor=actor, event="reports.import.families", objects=[Family(pk=pk) for pk in new_family_ids],
                  region_path=actor.reach_path,
                  after={"families": len(new_family_ids), "members": created_members, "matched": result.matched})
    result.created = {"families": len(new_family_ids), "members": created_members}
    result.committed = True
    return result


def _write_family_batch(actor, records, family_ids, new_family_ids, regions, categories, relations, matched, cadence, today):
    new = {}
    for record in records:
        file_number = record["file_number"]
        if file_number in family_ids or file_number in new:
            continue
        region = regions[Region.normalize_code(record["region_code"])]
        family = Family(file_number=file_number, category=categories[record["category"].lower()], region=region,
                        region_path=region.path, address=record.get("address", ""), registered_on=today,
                        residence=("rural" if region.is_rural else "urban") if region.urban_rural_code else "rural")
        key = (region.path, family.risk_level)
        if key not in cadence:
            rule = cadence_rules_for(*key)
            cadence[key] = (rule.contact_interval_days if rule else 30, rule.home_visit_interval_days if rule else 90)
        family.next_checkin_due = today + datetime.timedelta(days=cadence[key][0])
        family.next_home_visit_due = today + datetime.timedelta(days=cadence[key][1])
        new[file_number] = family
    if new:
        Family.objects.bulk_create(new.values())
        FamilyStatusChange.objects.bulk_create(
            FamilyStatusChange(family=f, to_status=f.status, changed_by=actor, reason=_("imported")) for f in new.values())
        for file_number, family in new.items():
            family_ids[file_number] = family.pk
            new_family_ids.append(family.pk)
    members = []
    for record in records:
        info = parse_id_number(record["id_number"])
        digest = blind_index(info.number, "id_number")
        if digest in matched:
            continue
        name = record["name"].strip()
        py, initials = _pinyin(name)
        phone = record.get("phone", "")
        members.append(FamilyMember(
            family_id=family_ids[record["file_number"]], name=name, name_pinyin=py, name_initials=initials,
            relation=relations[record["relation"].lower()], id_number=info.number, id_number_index=digest,
            birth_date=info.birth_date, sex=info.sex, phone=phone, phone_index=blind_index(phone, "phone"),
            is_deceased=record.get("deceased", "").lower() in YES,
        ))
    FamilyMember.objects.bulk_create(members)
    return len(members)


# ---- volunteers ------------------------------------------------------------------------------------
def volunteers_import(*, actor, upload, commit=False):
    if not actor.has_perm("volunteers.add_volunteer"):
        raise PermissionDenied
    _refuse_if_paused(actor)
    budget = _Budget()
    checker = _Checker(VOLUNTEER_COLUMNS)
    result = ImportResult()
    seen, people, region_rows = {}, [], []
    for number, record in _rows(upload, VOLUNTEER_COLUMNS, budget):
        result.rows += 1
        checker.required_present(number, record)
        if record.get("region_code"):
            region_rows.append((number, record["region_code"]))
        info = checker.id_number(number, record)
        if info is not None:
            digest = blind_index(info.number, "id_number")
            if digest in seen:
                checker.add(number, "id_number", _("The same person is already on row %(row)s.") % {"row": seen[digest]},
                            "duplicate")
            else:
                seen[digest] = number
                people.append((number, digest))
    regions, allowed = _regions(actor, {code for _row, code in region_rows})
    for number, code in region_rows:
        _check_region(checker, number, code, regions, allowed)
    on_record = {}  # digest -> [volunteer id]
    for chunk in _chunks(digest for _number, digest in people):
        for digest, pk in Volunteer.objects.filter(id_number_index__in=chunk).values_list("id_number_index", "id"):
            on_record.setdefault(digest, []).append(pk)
    in_reach = set()
    for chunk in _chunks(pk for found in on_record.values() for pk in found):
        in_reach.update(reach.restrict(Volunteer.objects.filter(pk__in=chunk), actor).values_list("pk", flat=True))
    existing, collided = set(), {}
    for number, digest in people:
        outside = [pk for pk in on_record.get(digest, ()) if pk not in in_reach]
        if outside:
            checker.review(number, "id_number")
            for pk in outside:
                collided.setdefault(pk, []).append(number)
        elif digest in on_record:
            existing.add(digest)
    _record_collisions(actor, "volunteers.import.collision", {Volunteer: collided})
    result.matched = len(existing)
    result.problems = sorted(checker.problems, key=lambda p: p.row)
    if not commit or result.problems:
        return result
    with transaction.atomic():
        created = []
        batch = []
        for _number, record in _rows(upload, VOLUNTEER_COLUMNS, budget):
            info = parse_id_number(record["id_number"])
            digest = blind_index(info.number, "id_number")
            if digest in existing:
                continue
            name, phone = record["name"].strip(), record.get("phone", "")
            batch.append(Volunteer(
                name=name, name_initials=_pinyin(name)[1], id_number=info.number, id_number_index=digest, phone=phone,
                phone_index=blind_index(phone, "phone"), region=regions[Region.normalize_code(record["region_code"])],
                professional_title=record.get("professional_title", "")))
            if len(batch) >= BATCH:
                created += Volunteer.objects.bulk_create(batch)
                batch = []
        created += Volunteer.objects.bulk_create(batch)
        if created:
            audit_log(actor=actor, event="reports.import.volunteers", objects=created, region_path=actor.reach_path,
                      after={"volunteers": len(created), "matched": result.matched})
    result.created = {"volunteers": len(created)}
    result.committed = True
    return result


# ---- insurance roster ------------------------------------------------------------------------------
def roster_import(*, actor, policy_id, upload, commit=False):
    """Add the people of a roster file to a policy; each must be a living family member in reach."""
    if not actor.has_perm("services.add_insuredperson"):
        raise PermissionDenied
    policy = reach.restrict(InsurancePolicy.objects.all(), actor).filter(pk=policy_id).first()
    if policy is None:
        raise OutOfReachError()
    budget = _Budget()
    checker = _Checker(ROSTER_COLUMNS)
    result = ImportResult()
    seen, people = {}, []
    for number, record in _rows(upload, ROSTER_COLUMNS, budget):
        result.rows += 1
        checker.required_present(number, record)
        if record.get("premium"):
            try:
                if Decimal(record["premium"]) < 0:
                    raise InvalidOperation
            except InvalidOperation:
                checker.add(number, "premium", _("Enter an amount of money."), "amount")
        info = checker.id_number(number, record)
        if info is not None:
            digest = blind_index(info.number, "id_number")
            if digest in seen:
                checker.add(number, "id_number", _("The same person is already on row %(row)s.") % {"row": seen[digest]},
                            "duplicate")
            else:
                seen[digest] = number
                people.append((number, digest, record.get("name", "").strip()))
    members = {}
    visible = reach.restrict(FamilyMember.objects.all(), actor).filter(is_deceased=False)
    for chunk in _chunks(digest for _n, digest, _name in people):
        found = visible.filter(id_number_index__in=chunk).only("id", "name", "id_number_index")
        members.update({m.id_number_index: m for m in found})
    on_roster = set(policy.roster.values_list("member_id", flat=True))
    for number, digest, name in people:
        member = members.get(digest)
        if member is None:
            checker.add(number, "id_number", _("No living family member in your reach has this ID number."), "not_found")
        elif name and member.name != name:
            checker.add(number, "name", _("The name differs from the record of this ID number."), "differs")
        elif member.pk in on_roster:
            result.matched += 1
    result.problems = sorted(checker.problems, key=lambda p: p.row)
    if not commit or result.problems:
        return result
    with transaction.atomic():
        rows = []
        for _number, record in _rows(upload, ROSTER_COLUMNS, budget):
            member = members[blind_index(normalize_id_number(record["id_number"]), "id_number")]
            if member.pk in on_roster:
                continue
            on_roster.add(member.pk)
            rows.append(InsuredPerson(policy=policy, member=member,
                                      premium=Decimal(record["premium"]) if record.get("premium") else None))
        InsuredPerson.objects.bulk_create(rows, batch_size=BATCH)
        audit_log(actor=actor, event="reports.import.roster", obj=policy, region_path=policy.region.path,
                  after={"added": len(rows), "matched": result.matched})
    result.created = {"insured": len(rows)}
    result.committed = True
    return result


class FamiliesTemplate(ImportTemplate):
    """Families with their members, one row per person (its checks need the whole file at once:
    a family spans rows, and people are matched across families by their ID number)."""

    kind, title, columns = "families", gettext_lazy("families"), FAMILY_COLUMNS

    def run(self, *, actor, upload, commit=False):
        return families_import(actor=actor, upload=upload, commit=commit)


class VolunteersTemplate(ImportTemplate):
    kind, title, columns = "volunteers", gettext_lazy("volunteers"), VOLUNTEER_COLUMNS

    def run(self, *, actor, upload, commit=False):
        return volunteers_import(actor=actor, upload=upload, commit=commit)


class RosterTemplate(ImportTemplate):
    kind, title, columns = "roster", gettext_lazy("insurance roster"), ROSTER_COLUMNS
    parameters = ("policy",)

    def run(self, *, actor, upload, commit=False, policy=None):
        return roster_import(actor=actor, policy_id=policy, upload=upload, commit=commit)
