"""Keeps ID numbers, phone numbers and search terms out of the logs.

An access log writes each request's path and query string, so one search by ID number would leave
the number in the log of every web server and every log collector after it. ``mask(text)``:

- replaces the value of each query parameter that carries a search term or a personal field
  (``SEARCH_PARAMETERS``): an ID number or a phone number keeps the shape public lists use
  (``350623********1234``, ``138****0001``), any other term (a name) becomes ``***``;
- masks any 18-character ID number and any 11-digit number (a mobile phone) elsewhere in the text.

``MaskingFilter`` applies it to log records (settings.LOGGING puts it on the handlers, so it holds
for runserver's ``django.server`` access log and every other logger); ``GunicornLogger`` applies it
to gunicorn's access log (``gunicorn.conf.py`` names it).

Only idcard's maskers are imported: the logging configuration is read before the apps are loaded.
"""
import logging
import re
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

from .idcard import mask_id_number, mask_phone

SEARCH_PARAMETERS = ("q", "term", "search", "id_number", "phone", "name")
_PARAMETER = re.compile(r"(^|[?&;])(" + "|".join(SEARCH_PARAMETERS) + r")=([^&;#\s\"']*)", re.IGNORECASE)
_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9])[0-9]{11}(?![0-9])")


def _mask_term(value):
    term = unquote_plus(value).strip()
    if not term:
        return value
    if _ID_NUMBER.fullmatch(term):
        return mask_id_number(term)
    if _PHONE.fullmatch(term):
        return mask_phone(term)
    return "***"


def mask(text):
    """``text`` with search terms, ID numbers and phone numbers masked."""
    if not text:
        return text
    text = _PARAMETER.sub(lambda m: f"{m.group(1)}{m.group(2)}={_mask_term(m.group(3))}", text)
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


class MaskingFilter(logging.Filter):
    """Masks the formatted message of every record it sees (never drops one)."""

    def filter(self, record):
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


class GunicornLogger(Logger):
    """gunicorn's logger with the request line, path, query string, referrer and every other
    text atom of the access log masked."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: mask(value) if isinstance(value, str) else value for key, value in atoms.items()}
