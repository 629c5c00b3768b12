"""The address of the client behind the reverse proxies this deployment trusts.

Behind a proxy every request arrives from the proxy's address; the client's is the one the proxy
appended to ``X-Forwarded-For``. Only the last ``TRUSTED_PROXY_COUNT`` hops were written by our own
proxies: anything further left came from the client and is not believed. With the default 0 the
header is ignored and the peer address is the client's.

``ClientAddressMiddleware`` puts the answer into ``REMOTE_ADDR`` before anything else reads it, so
the lockout (django-axes, ``AXES_CLIENT_IP_CALLABLE``), the audit trail, the API and Django itself
all see one and the same address.
"""
import ipaddress

from django.conf import settings

PEER_KEY = "casemgmt.peer_addr"  # the untouched peer address, kept in request.META once resolved


def _valid(address):
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request):
    """The client's address: the hop ``TRUSTED_PROXY_COUNT`` places left of the peer in the
    ``X-Forwarded-For`` chain (the peer itself with no trusted proxy), or None when unknown."""
    if request is None:
        return None
    meta = request.META
    if PEER_KEY in meta:  # resolved already by the middleware
        return meta.get("REMOTE_ADDR") or None
    peer = meta.get("REMOTE_ADDR") or None
    trusted = settings.TRUSTED_PROXY_COUNT
    if not trusted:
        return peer
    forwarded = [hop for hop in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    chain = [*forwarded, peer or ""]
    # More hops than trusted proxies: the one our outermost proxy saw. Fewer: the request did not
    # come through all of them, and the leftmost hop is the best we know.
    candidate = chain[-(trusted + 1)] if len(chain) > trusted else chain[0]
    return _valid(candidate) or peer


class ClientAddressMiddleware:
    """First in the chain: ``REMOTE_ADDR`` becomes ``client_ip(request)`` for everything after."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        address = client_ip(request)
        request.META[PEER_KEY] = request.META.get("REMOTE_ADDR", "")
        request.META["REMOTE_ADDR"] = address or ""
        return self.get_response(request)
