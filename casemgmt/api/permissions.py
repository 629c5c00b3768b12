"""Who may call which action. Rows are scoped separately (``reach.restrict`` in the querysets).

Reading a model needs only that the role may see some rows of it (``reach.can_use``): the queryset
decides which. Writing needs the role's model permission (the role groups of ``core.roles``), and
then the row must still be inside the caller's reach (else 404 from the scoped queryset).
"""
from rest_framework import permissions

from casemgmt.core import reach

WRITE_PERM_BY_METHOD = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def model_perm(model, action):
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


class ScopedPermission(permissions.BasePermission):
    """Deny by default: anonymous → 401, a role that may not use the model → 403.

    A viewset may name the permission a custom action needs with ``action_perms = {"reveal": "view"}``
    ("view" means reading rights are enough); otherwise POST on a detail action needs "change" and
    on a list action "add".
    """

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if not hasattr(view, request.method.lower()):
            return True  # no such operation here: let the view answer 405
        model = view.get_queryset_model()
        if not reach.can_use(user, model):
            return False
        needed = self.needed_perm(request, view)
        if needed is None or needed == "view":
            return True
        return user.has_perm(model_perm(model, needed))

    @staticmethod
    def needed_perm(request, view):
        action = getattr(view, "action", None)
        declared = getattr(view, "action_perms", {}).get(action) or getattr(getattr(view, action or "", None),
                                                                             "required_perm", None)
        if declared:
            return declared
        if request.method in permissions.SAFE_METHODS:
            return None
        if action not in (None, "create", "update", "partial_update", "destroy"):
            extra = getattr(view, action, None)
            return "change" if getattr(extra, "detail", True) else "add"
        return WRITE_PERM_BY_METHOD.get(request.method, "change")


class HasViewPerm(permissions.BasePermission):
    """Extra gate for reads that need the role's explicit view permission (e.g. the audit trail):
    the viewset names it in ``required_view_perm``."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(view.required_view_perm))
