"""OpenAPI post-processing: every operation documents the shared error answers, so clients (and
schemathesis) know their shape instead of meeting undocumented status codes."""

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
