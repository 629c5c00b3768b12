"""Excel workbooks with translated (Chinese by default) headings, written with openpyxl.

Workbooks are written in openpyxl's write-only mode, row by row, so a long list never sits in memory
as cell objects. Money goes in as numbers with two decimals, dates as dates, so the sheets add up in
Excel and LibreOffice.

Every cell goes through ``_cell``, and its text through ``core.spreadsheet.text_cell``: never a
live formula.
"""
import datetime
import io
import unicodedata
from decimal import Decimal

from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from casemgmt.core.spreadsheet import text_cell

from .statistics import REGIONAL_FIGURES, regional_totals

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.00%"
DATE_FORMAT = "yyyy-mm-dd"
MIN_WIDTH, MAX_WIDTH = 6, 60


def _(message):
    # A context of their own: short words like "Summary" or "Total" have other meanings (and
    # translations) in Django's catalogues, which take precedence over this app's.
    return pgettext("report", message)


class Percent(float):
    """A share (0.25) shown as a percentage (25.00%)."""


def _shown(value):
    """``value`` as the cell shows it, to measure its column."""
    if isinstance(value, Percent):
        return f"{value:.2%}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, datetime.date):
        return "0000-00-00"
    return "" if value is None else str(value)


def display_width(text):
    """Columns ``text`` takes in a spreadsheet: wide (CJK) characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def _cell(sheet, value, bold=False):
    if isinstance(value, Percent):
        cell = WriteOnlyCell(sheet, value=float(value))
        cell.number_format = PERCENT_FORMAT
    elif isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=float(value))
        cell.number_format = MONEY_FORMAT
    elif isinstance(value, datetime.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT
    elif value is None or isinstance(value, (int, float)):
        cell = WriteOnlyCell(sheet, value="" if value is None else value)
    else:
        cell = text_cell(sheet, str(value))
    if bold:
        cell.font = Font(bold=True)
    return cell


class WorkbookWriter:
    """Sheets appended one after another; ``sheet(title, headings, rows)`` writes one with its
    heading row frozen, a filter over its rows and columns as wide as what they hold. ``footer``
    rows (a total) come after the filtered range, so sorting leaves them at the bottom."""

    def __init__(self):
        self.book = Workbook(write_only=True)

    def sheet(self, title, headings, rows, footer=()):
        # Sheet titles: at most 31 characters, none of []:*?/\ (Excel's rules).
        safe = "".join(ch for ch in str(title) if ch not in "[]:*?/\\")[:31]
        sheet = self.book.create_sheet(safe)
        rows, footer = [list(row) for row in rows], [list(row) for row in footer]
        headings = [str(heading) for heading in headings]
        # A write-only sheet writes its column widths before its first row: measure first.
        for index in range(len(headings)):
            widest = max(display_width(_shown(row[index])) for row in [headings, *rows, *footer] if index < len(row))
            width = min(MAX_WIDTH, max(MIN_WIDTH, widest + 2))
            sheet.column_dimensions[get_column_letter(index + 1)].width = width
        sheet.freeze_panes = "A2"
        if headings:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(headings))}{len(rows) + 1}"
        sheet.append([_cell(sheet, heading, bold=True) for heading in headings])
        for row in rows:
            sheet.append([_cell(sheet, value) for value in row])
        for row in footer:
            sheet.append([_cell(sheet, value, bold=True) for value in row])
        return sheet

    def to_bytes(self):
        buffer = io.BytesIO()
        self.book.save(buffer)
        return buffer.getvalue()


def list_workbook(title, headings, rows):
    writer = WorkbookWriter()
    writer.sheet(title, headings, rows)
    return writer.to_bytes()


def _rate(value):
    return Percent(value) if value is not None else ""


def statistics_workbook(figures, trends, posting=None):
    """One sheet per figure group, in the bulletin's order, the monthly and sub-regional trends, and
    the public posting list (``posting``: headings and rows as the export policy gives them)."""
    writer = WorkbookWriter()
    region, period = figures["region"]["name"], figures["period"]["label"]
    insurance, coverage = figures["insurance"], figures["checkin_coverage"]
    consolation, assistance = figures["consolation"], figures["assistance_payments"]
    grants, trainings = figures["grants"], figures["trainings"]
    writer.sheet(_("Summary"), [_("Figure"), _("Value")], [
        (_("Region"), region),
        (_("Period"), period),
        (_("Service sites"), figures["sites"]["total"]),
        (_("Psychological aid centres"), figures["sites"]["psych_aid_centres"]),
        (_("Consolation person-visits"), consolation["person_visits"]),
        (_("Consolation cash (CNY)"), consolation["cash"]),
        (_("Consolation goods value (CNY)"), consolation["goods_value"]),
        (_("Consolation amount (CNY)"), consolation["amount"]),
        (_("Free health check-ups"), figures["free_checkups"]["count"]),
        (_("Insurance premiums paid (CNY)"), insurance["premium"]),
        (_("People covered by insurance"), insurance["people_covered"]),
        (_("Insurance claims paid"), insurance["claims_paid"]),
        (_("Insurance claims paid (CNY)"), insurance["claims_amount"]),
        (_("Special-assistance payments (CNY)"), assistance["amount"]),
        (_("Volunteer support funds (CNY)"), figures["volunteer_support"]["amount"]),
        (_("Grants (CNY)"), grants["amount"]),
        (_("Grant beneficiaries"), grants["beneficiaries"]),
        (_("Activities"), figures["activities"]["total"]),
        (_("Activity participants"), figures["activities"]["participants"]),
        (_("Training sessions"), trainings["sessions"]),
        (_("Training participants"), trainings["participants"]),
        (_("Volunteers trained"), figures["volunteers_trained"]["count"]),
        (_("Families contacted"), coverage["contacted"]),
        (_("Active families"), coverage["active"]),
        (_("Check-in coverage"), _rate(coverage["rate"])),
        (_("Families"), figures["families"]["total"]),
    ])
    writer.sheet(_("Service sites"), [_("Kind"), _("Number")],
                 [(row["label"], row["count"]) for row in figures["sites"]["by_kind"]],
                 footer=[(_("Total"), figures["sites"]["total"])])
    writer.sheet(_("Consolation and support"), [_("Item"), _("Person-visits"), _("Cash (CNY)"), _("Goods value (CNY)"),
                                                _("Amount (CNY)")], [
        (_("Consolation"), consolation["person_visits"], consolation["cash"], consolation["goods_value"],
         consolation["amount"]),
        (_("Volunteer support funds"), figures["volunteer_support"]["count"], figures["volunteer_support"]["amount"], "",
         figures["volunteer_support"]["amount"]),
        (_("Free health check-ups"), figures["free_checkups"]["count"], "", "", ""),
    ])
    writer.sheet(_("Insurance"), [_("Product"), _("Policies"), _("Premiums paid (CNY)")],
                 [(row["label"], row["policies"], row["premium"]) for row in insurance["by_product"]],
                 footer=[(_("Total"), insurance["policies"], insurance["premium"]),
                         (_("People covered by insurance"), insurance["people_covered"], ""),
                         (_("Insurance claims paid"), insurance["claims_paid"], insurance["claims_amount"])])
    writer.sheet(_("Special assistance"), [_("Category"), _("Payments"), _("Amount (CNY)")],
                 [(row["label"], row["count"], row["amount"]) for row in assistance["by_category"]],
                 footer=[(_("Total"), assistance["count"], assistance["amount"])])
    writer.sheet(_("Grants"), [_("Figure"), _("Value")], [
        (_("Grants"), grants["count"]), (_("Grants (CNY)"), grants["amount"]),
        (_("Grant beneficiaries"), grants["beneficiaries"]), (_("Outcome amount (CNY)"), grants["outcome_amount"]),
    ])
    writer.sheet(_("Activities"), [_("Category"), _("Activities"), _("Participants")],
                 [(row["label"], row["activities"], row["participants"]) for row in figures["activities"]["by_category"]],
                 footer=[(_("Total"), figures["activities"]["total"], figures["activities"]["participants"])])
    writer.sheet(_("Trainings"), [_("Programme"), _("Training sessions"), _("Participants")],
                 [(row["label"], row["sessions"], row["participants"]) for row in trainings["by_programme"]],
                 footer=[(_("Total"), trainings["sessions"], trainings["participants"])])
    writer.sheet(_("Volunteers and check-ins"), [_("Figure"), _("Value")], [
        (_("Volunteers trained"), figures["volunteers_trained"]["count"]),
        (_("Families contacted"), coverage["contacted"]),
        (_("Active families"), coverage["active"]),
        (_("Check-in coverage"), _rate(coverage["rate"])),
    ])
    families = figures["families"]
    writer.sheet(_("Families"), [_("Breakdown"), _("Value"), _("Families")],
                 [(_("Category"), row["label"], row["count"]) for row in families["by_category"]]
                 + [(_("Risk level"), row["label"], row["count"]) for row in families["by_risk"]]
                 + [(_("Status"), row["label"], row["count"]) for row in families["by_status"]])
    writer.sheet(_("By month"), [_("Month"), _("Consolation person-visits"), _("Consolation cash (CNY)"),
                                 _("Consolation goods value (CNY)"), _("Free health check-ups"), _("Activity participants"),
                                 _("Families contacted"), _("Volunteer support funds (CNY)"),
                                 _("Insurance premiums paid (CNY)")],
                 [(r["month"], r["consolation_visits"], r["consolation_cash"], r["consolation_goods"], r["free_checkups"],
                   r["participants"], r["families_contacted"], r["volunteer_support"], r["insurance_premium"])
                  for r in trends["by_month"]])
    totals = regional_totals(figures)
    writer.sheet(_("By region"), [_("Region"), *(str(heading) for _key, heading, _total in REGIONAL_FIGURES)],
                 [(r["name"], *(r[key] for key, _heading, _total in REGIONAL_FIGURES)) for r in trends["by_region"]],
                 footer=[(_("Total"), *(totals[key] for key, _heading, _total in REGIONAL_FIGURES))])
    if posting is not None:
        headings, rows = posting
        writer.sheet(_("Public posting list"), headings, rows)
    return writer.to_bytes()
