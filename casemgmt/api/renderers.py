"""The API's JSON renderer: DRF's, plus values that are JSON already.

A page of family cards is written by PostgreSQL as the very text DRF would write
(``casemgmt.api.sqljson``). Parsing fifty cards only to write them again cost a search more than
finding them; a view puts such text in its answer as ``RawJSON`` and it goes out as it is.
"""
import json

from rest_framework import renderers


class RawJSON(str):
    """Text that is one JSON value, written as this renderer writes JSON (compact, UTF-8)."""


class JSONRenderer(renderers.JSONRenderer):
    """Renders a dict whose values may be ``RawJSON`` (a paginated list's ``results``, say) by
    writing the rest as DRF does and the raw values in their places. When the client asks for an
    indented answer, the raw values are parsed and everything is written by DRF."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raw = {key: value for key, value in data.items() if isinstance(value, RawJSON)} if isinstance(data, dict) else {}
        if not raw:
            return super().render(data, accepted_media_type, renderer_context)
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            parsed = {key: json.loads(value) if key in raw else value for key, value in data.items()}
            return super().render(parsed, accepted_media_type, renderer_context)
        # A NUL character cannot be in a rendered URL or in anything else of the envelope.
        marks = {key: f"\x00{i}\x00" for i, key in enumerate(raw)}
        text = super().render({key: marks.get(key, value) for key, value in data.items()}, accepted_media_type,
                              renderer_context).decode()
        for key, mark in marks.items():
            placeholder = json.dumps(mark)
            if text.count(placeholder) != 1:
                raise ValueError("a raw value's place is ambiguous")
            # As DRF's renderer does with the rest: U+2028 and U+2029 escaped for JavaScript.
            value = raw[key].replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            text = text.replace(placeholder, value)
        return text.encode()
