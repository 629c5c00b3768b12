"""Property-based contract test: schemathesis generates requests from the live OpenAPI schema, valid
and invalid ones, and sends them through WSGI as a region manager (the role that may read and write
nearly every route); every check schemathesis has for a single answer runs on each of them: no 5xx,
no status, content type, header or body the schema does not promise, invalid data refused and valid
data accepted, except where valid data names a row that does not exist (below).
"""
import datetime
import functools

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, is_check_class, load_all_checks, positive_data_acceptance
from schemathesis.core.failures import Failure

from casemgmt.api.models import ApiToken
from casemgmt.wsgi import application

load_all_checks()
# Every check that judges one answer. The stateful ones (use_after_free,
# ensure_resource_availability, object_level_authorization) follow a chain of calls that a
# one-request-at-a-time run does not make; tests/api/test_permission_matrix.py tries every route
# as every role and scope instead.
STATEFUL = {"use_after_free", "ensure_resource_availability", "object_level_authorization"}
# A schema says what a well-formed request is, not which rows exist: a check-in for family 100, or a
# list filtered by activity 100, is well formed and refused (400) because there is no such family or
# activity in reach. Such a refusal, naming each missing row and nothing else, is the right answer.
# So is a NUL character in any string, a property name included: PostgreSQL cannot store it, so the
# API refuses it everywhere (casemgmt/api/parsers.py), which no string of the schema repeats.
ACCEPTED_REFUSALS = {"does_not_exist", "invalid_choice", "null_characters_not_allowed"}
# And the rules the schema cannot state: a check-in names a member or a volunteer (one of two
# fields), an ID number carries a real birth date and check digit (GB 11643).
CROSS_FIELD_RULES = {("/activities/checkin-by-token/", "member"), ("/activities/{id}/checkin/", "member")}
UNSTATED_FIELDS = {"id_number"}


def _accepted_refusal(case, error):
    return (error.get("code") in ACCEPTED_REFUSALS
            or error.get("field") in UNSTATED_FIELDS
            or any(case.operation.path.endswith(path) and error.get("field") == field and error.get("code") == "invalid"
                   for path, field in CROSS_FIELD_RULES))


@functools.wraps(positive_data_acceptance)
def positive_data_acceptance_but_missing_rows(ctx, response, case):
    try:
        return positive_data_acceptance(ctx, response, case)
    except Failure:
        if response.status_code == 400:
            errors = response.json().get("errors") or [{}]
            if all(_accepted_refusal(case, error) for error in errors):
                return None
        raise


CHECKS_RUN = [positive_data_acceptance_but_missing_rows if check is positive_data_acceptance else check
              for check in CHECKS.get_all() if not is_check_class(check) and check.__name__ not in STATEFUL]


@pytest.fixture
def keep_test_connection():
    # The real WSGI handler closes the connection after each request, which would end the test's
    # transaction; Django's test client switches that off the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def manager_token(world, keep_test_connection):
    expires = timezone.now() + datetime.timedelta(days=1)
    return ApiToken.issue(user=world.people["manager"], name="schemathesis", expires_at=expires)[1]


def test_every_check_holds_for_the_whole_api_as_a_manager(manager_token, scale):
    names = {check.__name__ for check in CHECKS_RUN}
    assert {"not_a_server_error", "status_code_conformance", "content_type_conformance",
            "response_schema_conformance", "response_headers_conformance", "negative_data_rejection",
            "positive_data_acceptance"} <= names
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    headers = {"Authorization": f"Bearer {manager_token}"}
    failures = []

    for operation in operations:
        cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

        @settings(max_examples=4, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=cases)
        def run(case):
            # Each request runs in a transaction rolled back afterwards: examples stay independent.
            with transaction.atomic():
                try:
                    case.call_and_validate(headers=headers, checks=CHECKS_RUN)
                finally:
                    transaction.set_rollback(True)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, f"{len(failures)} operations fail:\n\n" + "\n\n".join(failures)
