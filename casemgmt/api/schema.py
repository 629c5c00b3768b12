"""OpenAPI post-processing: every operation documents the shared error answers, so clients (and
schemathesis) know their shape instead of meeting undocumented status codes; decimal strings have
patterns that say what the API accepts."""
from decimal import Decimal

from drf_spectacular import openapi
from rest_framework import serializers

ERROR_SCHEMA = {
    "type": "object",
    "required": ["detail", "errors"],
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
ERRORS = {
    "400": "The request is not valid; each error names its field.",
    "401": "Not signed in, or the token is invalid, expired or revoked.",
    "403": "The caller's role may not do this.",
    "404": "No such record within the caller's reach.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflicts with the current state (or an Idempotency-Key reused for another request).",
    "412": "The If-Match ETag is stale.",
    "413": "The request body is too large.",
    "415": "Unsupported media type.",
    "428": "If-Match is required.",
    "429": "Too many requests.",
}


def _decimal_pattern(whole, places, minimum, maximum):
    """A regular expression for the decimal strings DRF takes: ``whole`` digits before the point,
    ``places`` after; no minus sign for a minimum of 0 or more; nothing under 0.1 for a minimum
    above 0 (up to 0.1); nothing above a small whole-number maximum (hours in a day)."""
    sign = "" if minimum is not None and minimum >= 0 else "-?"
    positive = minimum is not None and 0 < minimum <= Decimal("0.1") and places
    fraction = rf"(?:\.\d{{0,{places}}})?"
    if maximum is not None and maximum == int(maximum) and 1 <= maximum <= 1000 and sign == "":
        top = int(maximum)
        integers = "|".join(str(n) for n in range(1 if positive else 0, top))
        parts = [f"(?:{integers}){fraction}"] if integers else []
        parts.append(rf"{top}(?:\.0{{0,{places}}})?")
    else:
        parts = [rf"{'[1-9]' if positive else ''}\d{{{0 if positive else 1},{whole - 1 if positive else whole}}}{fraction}"]
    parts.append(rf"0?\.[1-9]\d{{0,{places - 1}}}" if positive else rf"\.\d{{1,{places}}}")
    return f"^{sign}(?:{'|'.join(parts)})$"


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, with decimal strings described as the API parses them: its pattern makes
    every digit optional (so "" and "-" would be decimals) and cannot carry a minimum, so a negative
    amount looked valid where DRF refuses it. Here: at least one digit, no minus sign when the field's
    minimum is 0 or more, and no value under 0.1 when the minimum is above 0 (hours worked)."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        content = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and content.get("format") == "decimal" and field.max_whole_digits:
            content["pattern"] = _decimal_pattern(field.max_whole_digits, field.decimal_places,
                                                  field.min_value, field.max_value)
        return content


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                if code in responses:
                    continue
                if method == "get" and code in ("409", "412", "413", "415", "428"):
                    continue
                responses[code] = {"description": description, "content": {"application/json": {"schema": ref}}}
    return result
