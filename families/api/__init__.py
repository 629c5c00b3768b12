"""REST API of the families app (mounted under /api/v1/ by casemgmt.api.urls)."""
