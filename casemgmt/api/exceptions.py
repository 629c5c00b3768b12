"""One error shape for the whole API, translated by ``Accept-Language``:

    {"detail": "<summary>", "errors": [{"field": "id_number", "code": "id_checksum", "message": "..."}]}

``field`` is null for errors not tied to one field. Service exceptions are mapped here once:
a Django ``ValidationError`` → 400, ``ConcurrentEditError`` → 409, ``OutOfReachError`` → 404; the
database or the broker out of reach → 503 with ``Retry-After``. Any other server error under ``/api/``
(raised in a view or in a middleware before it) is the same shape with 500 (``server_error``, the
project's ``handler500``), never an HTML page and never the exception's text. Django's own 400, 403,
404 and CSRF answers under ``/api/`` take the shape too (the project's other handlers); elsewhere they
are the translated pages of the workspace (``400.html``, ``403.html``, ``404.html``, ``403_csrf.html``).
"""
import logging
import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import csrf, defaults
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from casemgmt.core.errors import ConcurrentEditError, OutOfReachError

logger = logging.getLogger(__name__)

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY
# A dependency that is away: the database, or the broker when a task is sent from the request.
UNAVAILABLE = (OperationalError, InterfaceError, BrokerError, RedisConnectionError, RedisTimeoutError)
RETRY_AFTER = 30  # seconds: long enough for a restart or a failover, short enough for a phone to wait


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = _("Send the If-Match header with the ETag you last read.")
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("This record was changed by someone else. Reload it and try again.")
    default_code = "precondition_failed"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This request conflicts with the current state of the record.")
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The service is briefly unavailable. Try again shortly.")
    default_code = "unavailable"


class ServerError(exceptions.APIException):
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = _("Something went wrong on the server. It has been logged; try again later.")
    default_code = "server_error"


class IdempotentReplay(Exception):
    """Raised before the handler runs when a stored answer must be replayed (the Idempotency-Key
    handling of ``viewsets.ScopedViewSetMixin``)."""

    def __init__(self, record):
        self.record = record


def _django_validation_to_drf(exc):
    if hasattr(exc, "error_dict"):
        detail = {
            (NON_FIELD if field == "__all__" else field): [
                exceptions.ErrorDetail(message, code=error.code or "invalid")
                for error in errors for message in error.messages
            ]
            for field, errors in exc.error_dict.items()
        }
    else:
        detail = [exceptions.ErrorDetail(message, code=error.code or "invalid")
                  for error in exc.error_list for message in error.messages]
    return exceptions.ValidationError(detail)


def _flatten(detail, field=None):
    """ErrorDetail trees (dicts of lists, nested serializers) → [{"field", "code", "message"}]."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = None if key == NON_FIELD else (f"{field}.{key}" if field else str(key))
            out.extend(_flatten(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            # A list of dicts is a nested many=True serializer: keep the index in the field path.
            name = f"{field}.{index}" if isinstance(value, dict) and field else field
            out.extend(_flatten(value, name))
        return out
    return [{"field": field, "code": getattr(detail, "code", "invalid"), "message": str(detail)}]


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = _django_validation_to_drf(exc)
    elif isinstance(exc, OutOfReachError):
        exc = exceptions.NotFound()
    elif isinstance(exc, ConcurrentEditError):
        exc = Conflict(ConcurrentEditError.message, code="concurrent_edit")
    elif isinstance(exc, IntegrityError):
        # A constraint caught what the validation could not see (usually a concurrent write).
        exc = Conflict()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, UNAVAILABLE):
        logger.warning("API request answered 503: %s unavailable (%s).", _dependency(exc), type(exc).__name__)
        exc = ServiceUnavailable()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django logs it and answers with server_error below
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        summary = _("The request is not valid.")
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        errors = _flatten(detail)
        summary = errors[0]["message"] if errors else str(detail)
    response.data = {"detail": str(summary), "errors": errors}
    if isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = str(RETRY_AFTER)
    return response


def _dependency(exc):
    return "database" if isinstance(exc, (OperationalError, InterfaceError)) else "broker"


def _error_response(exc):
    summary = str(exc.detail)
    code = getattr(exc.detail, "code", None) or exc.default_code
    response = JsonResponse({"detail": summary, "errors": [{"field": None, "code": code,
                                                            "message": summary}]},
                            status=exc.status_code)
    if isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = str(RETRY_AFTER)
    return response


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """The project's ``handler500``. Django has logged the error already (with its traceback);
    this only chooses the answer: the API's JSON shape under ``/api/``, 503 with ``Retry-After``
    when the database or broker is away, Django's HTML page elsewhere."""
    unavailable = isinstance(sys.exc_info()[1], UNAVAILABLE)
    if request.path.startswith("/api/"):
        return _error_response(ServiceUnavailable() if unavailable else ServerError())
    response = defaults.server_error(request, template_name)
    if unavailable:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response["Retry-After"] = str(RETRY_AFTER)
    return response


def _is_api(request):
    return request.path.startswith("/api/")


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    """The project's ``handler400``: the API's shape under ``/api/``, the translated page elsewhere."""
    if _is_api(request):
        return _error_response(exceptions.ParseError(_("The request is not valid.")))
    return defaults.bad_request(request, exception, template_name)


def permission_denied(request, exception, template_name=defaults.ERROR_403_TEMPLATE_NAME):
    """The project's ``handler403``. The exception's text is not shown: a page says what a role may do."""
    if _is_api(request):
        return _error_response(exceptions.PermissionDenied())
    return defaults.permission_denied(request, exception, template_name)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    """The project's ``handler404``."""
    if _is_api(request):
        return _error_response(exceptions.NotFound())
    return defaults.page_not_found(request, exception, template_name)


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a session-authenticated API call without the token gets the API's 403."""
    if _is_api(request):
        return _error_response(exceptions.PermissionDenied(_("CSRF check failed: send the X-CSRFToken header."),
                                                           code="csrf_failed"))
    return csrf.csrf_failure(request, reason)
