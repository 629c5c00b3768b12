"""Spreadsheet cells that stay what they are: text a spreadsheet would read as a formula (it begins
with ``= + - @``, a tab or a carriage return — a member named ``=HYPERLINK(…)`` would otherwise be a
live link that sends the neighbouring cells away) is written as a text cell with Excel's quote
prefix, its value unchanged, so it stays text even when someone edits the cell. Every workbook the
system writes (reports, exports, a person's own data) makes its text cells here."""
from openpyxl.cell import WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(sheet, text):
    """A write-only cell of ``sheet`` that holds ``text`` as text, whatever it begins with."""
    cell = WriteOnlyCell(sheet, value=text)
    if text.startswith(FORMULA_STARTS):
        cell.data_type = "s"  # openpyxl makes any text beginning with "=" a formula
        cell.quotePrefix = True
    return cell
