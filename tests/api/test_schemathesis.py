"""Property-based contract test: schemathesis generates requests from the live OpenAPI schema and
sends them through WSGI as users of every role; no answer may be a 5xx or disagree with the schema."""
import datetime

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from casemgmt.api.models import ApiToken
from casemgmt.wsgi import application
from tests.api.matrix import SIGNED_IN

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


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
def tokens(world, keep_test_connection):
    expires = timezone.now() + datetime.timedelta(days=1)
    return {role: ApiToken.issue(user=world.people[role], name="schemathesis", expires_at=expires)[1]
            for role in sorted(SIGNED_IN)}


def test_api_conforms_to_its_schema_for_every_role(tokens, scale):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    roles = sorted(tokens)
    failures = []

    for operation in operations:
        @settings(max_examples=2, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=operation.as_strategy(), role=st.sampled_from(roles))
        def run(case, role):
            # Each request runs in a transaction rolled back afterwards: examples stay independent.
            with transaction.atomic():
                try:
                    case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)
                finally:
                    transaction.set_rollback(True)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:800]}")
    assert not failures, "\n\n".join(failures)
