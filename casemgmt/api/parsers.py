"""The API's JSON body parser: DRF's, with a nesting limit and no NUL characters.

Python's parser recurses once per level: a body of 50,000 opening brackets (50 KB) ends in a
``RecursionError``, which DRF's parser does not catch (a 500). No request of this API nests deeper
than a few levels, so anything past ``MAX_DEPTH`` is refused before it is parsed. A NUL character
in a string cannot be stored by PostgreSQL (``text`` and ``jsonb`` refuse it) and is refused too,
as is a body of bare ``null``, which no route takes.
Every JSON body of the API goes through ``loads`` here (it is the default parser, and views that
list their own parsers name this one).
"""
import itertools
import json
import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32
# A JSON string (its escapes included), and the brackets left once strings are taken out.
STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
BRACKET = re.compile(r"[\[\]{}]")
NUL_ESCAPE = re.compile(r"\\u0000", re.IGNORECASE)


def depth_of(text):
    """The deepest nesting of brackets in the JSON ``text``, brackets inside strings not counted."""
    steps = (1 if bracket in "[{" else -1 for bracket in BRACKET.findall(STRING.sub("", text)))
    return max(itertools.accumulate(steps, initial=0))


def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def loads(text):
    """``json.loads`` for a request body, with ``ParseError`` (400) for what must not get in."""
    if depth_of(text) > MAX_DEPTH:
        raise ParseError(_("The JSON body is nested more than %(depth)d levels deep.") % {"depth": MAX_DEPTH},
                         code="too_deep")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ParseError(_("The JSON body is not valid: %(error)s") % {"error": exc}, code="parse_error") from None
    if data is None:
        # DRF's serializers answer a null body in untranslated English ("No data provided").
        raise ParseError(_("The JSON body is null; send an object with the fields."), code="null")
    if NUL_ESCAPE.search(text) and _has_nul(data):
        raise ParseError(_("The JSON body contains a NUL character, which is not allowed."),
                         code="null_characters_not_allowed")
    return data


def _refuse_constant(name):
    # NaN and Infinity are not JSON; DRF's own parser refuses them as well (strict mode).
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(_("The JSON body is not valid: %(error)s") % {"error": exc}, code="parse_error") from None
        return loads(text)
