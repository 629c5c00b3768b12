"""WSGI entry point for gunicorn and ``runserver``."""
import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casemgmt.settings")
application = get_wsgi_application()

# Keys that cannot read the database's data stop the server here, not on each request's InvalidToken.
from casemgmt.core import keys  # noqa: E402

keys.verify()

# What is loaded now (Django, the apps, the URL conf with every view and serializer: ~330,000
# objects) lives as long as the process. Frozen out of the garbage collector's way, a collection
# scans what requests allocate, not the whole project. With gunicorn's --preload it also keeps the
# forked workers' memory shared.
get_resolver().url_patterns  # noqa: B018 (imports the URL conf now, not on the first request)
gc.freeze()
