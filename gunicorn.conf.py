"""gunicorn's settings for the web process, read from the working directory (run gunicorn from the
project's root: ``gunicorn casemgmt.wsgi:application``).

The access log stays off unless asked for (``--access-logfile -``); when it is on, ID numbers,
phone numbers and search terms in it are masked by this logger class.
"""
logger_class = "casemgmt.core.logmask.GunicornLogger"
