"""Running service calls at the same moment, each in its own thread and database connection."""
import threading

from django.db import connection


def race(*calls):
    """Run the calls at the same moment in their own threads (own connections); return results,
    with an exception in place of the result of a call that raised."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what happened
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
