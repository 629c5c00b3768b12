"""Every route in the API router × every role × the three scopes against the declared policy.

The expectations come from tests/api/policy_*.py (written by hand, not from reach.py). A route in
the router without a policy, or a write operation without an entry, fails.
"""
import importlib
import pathlib

import pytest
from django.db import transaction
from django.urls import reverse

from casemgmt.api.urls import router
from tests.api.matrix import DENY, ROLES, SCOPES

POLICY_MODULES = sorted(p.stem for p in pathlib.Path(__file__).parent.glob("policy_*.py"))
POLICIES = {}
for _name in POLICY_MODULES:
    POLICIES.update(importlib.import_module(f"tests.api.{_name}").ROUTE_POLICIES)

REGISTRY = sorted((basename, viewset) for _prefix, viewset, basename in router.registry)
STANDARD_WRITES = {"create": ("POST", False), "update": ("PATCH", True), "destroy": ("DELETE", True)}
DENIED = {401, 403, 404}


def operations(viewset):
    """(name, method, detail, is_write) for every operation the viewset offers."""
    allowed = set(getattr(viewset, "http_method_names", ["get", "post", "put", "patch", "delete"]))
    ops = []
    if hasattr(viewset, "list"):
        ops.append(("list", "GET", False, False))
    if hasattr(viewset, "retrieve"):
        ops.append(("retrieve", "GET", True, False))
    for name, (method, detail) in STANDARD_WRITES.items():
        if hasattr(viewset, name) and method.lower() in allowed:
            ops.append((name, method, detail, True))
    if hasattr(viewset, "update") and "put" in allowed:
        ops.append(("update", "PUT", True, True))
    for extra in viewset.get_extra_actions():
        for method in extra.mapping:
            ops.append((extra.__name__, method.upper(), extra.detail, method.upper() != "GET"))
    return ops


def url_for(basename, viewset, op, detail, pk):
    if op in ("list", "create", "retrieve", "update", "destroy"):
        return reverse(f"api:{basename}-{'detail' if detail else 'list'}", args=[pk] if detail else [])
    extra = next(e for e in viewset.get_extra_actions() if e.__name__ == op)
    return reverse(f"api:{basename}-{extra.url_name}", args=[pk] if detail else [])


def expected_status(policy, role, op, is_write, detail, scope):
    """An exact status, or "allowed" (anything but 401/403/404/5xx)."""
    if role == "anonymous":
        return 401
    seen = policy.read[role]
    if seen == DENY:
        return 403
    if is_write and role not in policy.write[op]:
        return 403
    if detail and scope not in seen:
        return 404
    return "allowed" if is_write else 200


def call(client, method, url):
    if method == "GET":
        return client.get(url, {"page_size": 200} if not url.rstrip("/").split("/")[-1].isdigit() else None)
    # Writes run in a transaction rolled back afterwards, so each role meets the same data.
    with transaction.atomic():
        response = getattr(client, method.lower())(url, {}, format="json")
        transaction.set_rollback(True)
    return response


def test_every_route_has_a_policy():
    missing = [basename for basename, _viewset in REGISTRY if basename not in POLICIES]
    assert not missing, f"routes without a row in tests/api/policy_*.py: {missing}"
    stale = set(POLICIES) - {basename for basename, _ in REGISTRY}
    assert not stale, f"policies for routes that no longer exist: {stale}"


@pytest.mark.parametrize("basename,viewset", REGISTRY, ids=[b for b, _ in REGISTRY])
def test_route_matrix(basename, viewset, world, client_for):
    policy = POLICIES.get(basename)
    assert policy is not None, f"route {basename!r} has no policy in tests/api/policy_*.py"
    objects = {scope: policy.make(world, scope) for scope in SCOPES}
    rows = {scope: {o.pk for o in (policy.rows(world, scope) if policy.rows else [objects[scope]])} for scope in SCOPES}
    universe = set().union(*rows.values())
    ops = operations(viewset)
    for op, _method, _detail, is_write in ops:
        if is_write:
            assert op in policy.write, f"{basename}: write operation {op!r} has no entry in the policy"

    failures = []
    for role in ROLES:
        client = client_for(role)
        for op, method, detail, is_write in ops:
            for scope in (SCOPES if detail else (None,)):
                url = url_for(basename, viewset, op, detail, objects[scope].pk if detail else None)
                response = call(client, method, url)
                want = expected_status(policy, role, op, is_write, detail, scope)
                got = response.status_code
                ok = (got not in DENIED and got < 500) if want == "allowed" else got == want
                if not ok:
                    failures.append(f"{role:11} {method:6} {url} → {got}, expected {want}")
                    continue
                if op == "list" and want == 200:
                    body = response.json()
                    ids = {row["id"] for row in body["results"]}
                    seen = policy.read[role]
                    expected = set().union(*(rows[s] for s in seen)) if seen else set()
                    returned = ids if policy.list_exact else ids & universe
                    if returned != expected:
                        failures.append(f"{role:11} GET    {url} → ids {sorted(returned)}, expected {sorted(expected)}")
    assert not failures, "\n".join(failures)
