"""Probes for ``/healthz`` of the dependencies that are not the database: each answers quickly
(a short timeout, no retries), since a health check that hangs is read as the web being down."""
BROKER_TIMEOUT = 1.0  # seconds


def broker_health():
    """``{"status": "ok" | "down"}``: whether a connection to the Celery broker opens now."""
    from casemgmt.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT)
    except Exception:  # any failure to connect is the answer, not an error of the health check
        return {"status": "down"}
    return {"status": "ok"}

