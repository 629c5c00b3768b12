"""Sensitive dates: festivals when loneliness peaks, lunar birthdays, and the quiet-day rule.

Dates come from ``lunar_python`` (a maintained lunar-calendar library), not hand-written tables:
Spring Festival is lunar 1/1, Mid-Autumn lunar 8/15, Qingming the solar term 清明.
"""
import datetime

from lunar_python import Lunar, LunarYear, Solar

FESTIVALS = ("spring_festival", "qingming", "mid_autumn")


def festival_dates(year):
    """The festival dates of a Gregorian ``year``: {"spring_festival": date, ...}."""

    def solar(lunar_month, lunar_day):
        s = Lunar.fromYmd(year, lunar_month, lunar_day).getSolar()
        return datetime.date(s.getYear(), s.getMonth(), s.getDay())

    qingming = Solar.fromYmd(year, 6, 1).getLunar().getJieQiTable()["清明"]
    return {
        "spring_festival": solar(1, 1),
        "qingming": datetime.date(qingming.getYear(), qingming.getMonth(), qingming.getDay()),
        "mid_autumn": solar(8, 15),
    }


def lunar_month_day(day):
    """(lunar month, lunar day) of a Gregorian date; leap months count as no birthday month."""
    lunar = Solar.fromYmd(day.year, day.month, day.day).getLunar()
    return lunar.getMonth(), lunar.getDay()


def lunar_birthday_keys(day):
    """The (lunar month, lunar day) birthdays celebrated on ``day``.

    A birthday on the 30th is celebrated on the 29th in a month that has only 29 days; nothing is
    celebrated in a leap month (the birthday falls in the regular month of that number).
    """
    lunar = Solar.fromYmd(day.year, day.month, day.day).getLunar()
    month, lday = lunar.getMonth(), lunar.getDay()
    if month < 0:
        return []
    keys = [(month, lday)]
    if lday == 29 and LunarYear.fromYear(lunar.getYear()).getMonth(month).getDayCount() == 29:
        keys.append((month, 30))
    return keys


def solar_birthday_keys(day):
    """(month, day) of solar birthdays celebrated on ``day``; 29 February falls on the 28th otherwise."""
    keys = [(day.month, day.day)]
    if day.month == 2 and day.day == 28 and not _is_leap(day.year):
        keys.append((2, 29))
    return keys


def _is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days(start, count):
    return [start + datetime.timedelta(days=i) for i in range(count)]


def is_quiet_day(family, date):
    """Whether routine promotional messages to ``family`` are held back on ``date``: a festival of
    remembrance or the anniversary of the child's death."""
    if date in festival_dates(date.year).values():
        return True
    keys = solar_birthday_keys(date)
    deaths = family.members.filter(relation="child", death_date__isnull=False).values_list("death_date", flat=True)
    return any((d.month, d.day) in keys for d in deaths)
