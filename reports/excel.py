"""Excel workbooks with translated (Chinese by default) headings, written with openpyxl.

Workbooks are written in openpyxl's write-only mode, row by row, so a long list never sits in memory
as cell objects. Money goes in as numbers with two decimals, dates as dates, so the sheets add up in
Excel and LibreOffice.

Every cell goes through ``_cell``, and its text through ``core.spreadsheet.text_cell``: never a
live formula.
"""
import datetime
import io
from decimal import Decimal

from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from casemgmt.core.spreadsheet import text_cell

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_FORMAT = "#,##0.00"


def _(message):
    # A context of their own: short words like "Summary" or "Total" have other meanings (and
    # translations) in Django's catalogues, which take precedence over this app's.
    return pgettext("report", message)


def _cell(sheet, value, bold=False):
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=float(value))
        cell.number_format = MONEY_FORMAT
    elif isinstance(value, datetime.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
    elif value is None or isinstance(value, (int, float)):
        cell = WriteOnlyCell(sheet, value="" if value is None else value)
    else:
        cell = text_cell(sheet, str(value))
    if bold:
        cell.font = Font(bold=True)
    return cell


class WorkbookWriter:
    """Sheets appended one after another; ``sheet(title, headings, rows)`` streams the rows."""

    def __init__(self):
        self.book = Workbook(write_only=True)

    def sheet(self, title, headings, rows):
        # Sheet titles: at most 31 characters, none of []:*?/\ (Excel's rules).
        safe = "".join(ch for ch in str(title) if ch not in "[]:*?/\\")[:31]
        sheet = self.book.create_sheet(safe)
        sheet.append([_cell(sheet, heading, bold=True) for heading in headings])
        for row in rows:
            sheet.append([_cell(sheet, value) for value in row])
        return sheet

    def to_bytes(self):
        buffer = io.BytesIO()
        self.book.save(buffer)
        return buffer.getvalue()


def list_workbook(title, headings, rows):
    writer = WorkbookWriter()
    writer.sheet(title, headings, rows)
    return writer.to_bytes()


def statistics_workbook(figures, trends):
    """One sheet per figure group, in the bulletin's order, plus the monthly and sub-regional trends."""
    writer = WorkbookWriter()
    region, period = figures["region"]["name"], figures["period"]["label"]
    insurance, coverage = figures["insurance"], figures["checkin_coverage"]
    writer.sheet(_("Summary"), [_("Figure"), _("Value")], [
        (_("Region"), region),
        (_("Period"), period),
        (_("Service sites"), figures["sites"]["total"]),
        (_("Consolation person-visits"), figures["consolation"]["person_visits"]),
        (_("Consolation amount (CNY)"), figures["consolation"]["amount"]),
        (_("Free health check-ups"), figures["free_checkups"]["count"]),
        (_("Insurance premiums (CNY)"), insurance["premium"]),
        (_("People covered by insurance"), insurance["people_covered"]),
        (_("Volunteer support funds (CNY)"), figures["volunteer_support"]["amount"]),
        (_("Activities"), figures["activities"]["total"]),
        (_("Activity participants"), figures["activities"]["participants"]),
        (_("Volunteers trained"), figures["volunteers_trained"]["count"]),
        (_("Families contacted"), coverage["contacted"]),
        (_("Active families"), coverage["active"]),
        (_("Check-in coverage"), coverage["rate"] if coverage["rate"] is not None else ""),
        (_("Families"), figures["families"]["total"]),
    ])
    writer.sheet(_("Service sites"), [_("Kind"), _("Number")],
                 [(row["label"], row["count"]) for row in figures["sites"]["by_kind"]])
    writer.sheet(_("Consolation and support"), [_("Item"), _("Person-visits"), _("Amount (CNY)")], [
        (_("Consolation"), figures["consolation"]["person_visits"], figures["consolation"]["amount"]),
        (_("Volunteer support funds"), figures["volunteer_support"]["count"], figures["volunteer_support"]["amount"]),
        (_("Free health check-ups"), figures["free_checkups"]["count"], ""),
    ])
    writer.sheet(_("Insurance"), [_("Product"), _("Policies"), _("Premiums (CNY)")],
                 [(row["label"], row["policies"], row["premium"]) for row in insurance["by_product"]]
                 + [(_("Total"), insurance["policies"], insurance["premium"]),
                    (_("People covered by insurance"), insurance["people_covered"], "")])
    writer.sheet(_("Activities"), [_("Category"), _("Activities"), _("Participants")],
                 [(row["label"], row["activities"], row["participants"]) for row in figures["activities"]["by_category"]]
                 + [(_("Total"), figures["activities"]["total"], figures["activities"]["participants"])])
    writer.sheet(_("Volunteers and check-ins"), [_("Figure"), _("Value")], [
        (_("Volunteers trained"), figures["volunteers_trained"]["count"]),
        (_("Families contacted"), coverage["contacted"]),
        (_("Active families"), coverage["active"]),
        (_("Check-in coverage"), coverage["rate"] if coverage["rate"] is not None else ""),
    ])
    families = figures["families"]
    writer.sheet(_("Families"), [_("Breakdown"), _("Value"), _("Families")],
                 [(_("Category"), row["label"], row["count"]) for row in families["by_category"]]
                 + [(_("Risk level"), row["label"], row["count"]) for row in families["by_risk"]]
                 + [(_("Status"), row["label"], row["count"]) for row in families["by_status"]])
    writer.sheet(_("By month"), [_("Month"), _("Consolation person-visits"), _("Consolation amount (CNY)"),
                                 _("Free health check-ups"), _("Activity participants"), _("Families contacted"),
                                 _("Volunteer support funds (CNY)")],
                 [(r["month"], r["consolation_visits"], r["consolation_amount"], r["free_checkups"], r["participants"],
                   r["families_contacted"], r["volunteer_support"]) for r in trends["by_month"]])
    writer.sheet(_("By region"), [_("Region"), _("Families"), _("Active families"), _("Families contacted"),
                                  _("Consolation person-visits"), _("Consolation amount (CNY)"), _("Free health check-ups"),
                                  _("Activity participants")],
                 [(r["name"], r["families"], r["families_active"], r["families_contacted"], r["consolation_visits"],
                   r["consolation_amount"], r["free_checkups"], r["participants"]) for r in trends["by_region"]])
    return writer.to_bytes()
