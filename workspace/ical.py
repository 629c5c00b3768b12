"""iCalendar (RFC 5545) text, written by hand: the feed needs only VEVENTs with dates or UTC times."""
import datetime

from django.utils import timezone

PRODID = "-//casemgmt//workspace calendar//ZH"


def escape(text):
    """TEXT value escaping (RFC 5545 §3.3.11)."""
    return (str(text).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def fold(line):
    """Lines longer than 75 octets continue on the next line after CRLF and a space (§3.1),
    never splitting a UTF-8 character."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        limit = 75 if not out else 74  # a continuation line spends one octet on the leading space
        if len(current) + len(encoded) > limit:
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)


def _utc(moment):
    return moment.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def render(events, *, name, now=None, domain="casemgmt"):
    """``events``: (uid, start, end, all_day, summary, description); dates for all-day events."""
    stamp = _utc(now or timezone.now())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape(name)}", "X-WR-TIMEZONE:Asia/Shanghai"]
    for uid, start, end, all_day, summary, description in events:
        lines += ["BEGIN:VEVENT", f"UID:{uid}@{domain}", f"DTSTAMP:{stamp}"]
        if all_day:
            lines += [f"DTSTART;VALUE=DATE:{start:%Y%m%d}", f"DTEND;VALUE=DATE:{end:%Y%m%d}"]
        else:
            lines += [f"DTSTART:{_utc(start)}", f"DTEND:{_utc(end)}"]
        lines.append(f"SUMMARY:{escape(summary)}")
        if description:
            lines.append(f"DESCRIPTION:{escape(description)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
