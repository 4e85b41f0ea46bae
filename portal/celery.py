"""The Celery application, configured from Django settings (namespace CELERY)."""

import logging
import os
from collections.abc import Callable

from celery import Celery
from django.db import transaction
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def task_named(name: str):
    """The registered task called `name` ("newsletter.deliver").

    Services queue tasks by name so that no service imports a tasks module (tasks import
    services, never the other way round). The first lookup loads every app's tasks module,
    as a worker does when it starts.
    """
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]


def queue_after_commit(
    name: str,
    *,
    countdown: float | None = None,
    on_failure: Callable[[], None] | None = None,
    **kwargs,
) -> None:
    """Queue the task `name` once the current transaction commits; a broker that is down
    fails nothing, and `on_failure` (if given) is called so that the caller can record it.

    The member's submission or the editor's publication is already stored when this runs, so
    an unreachable broker must not turn it into an error page. The work is not lost: its row
    says it is still to do (metadata not fetched, email not sent, message not posted) and a
    periodic sweeper queues it again once the broker is back.

    `countdown`: seconds the broker holds the task before a worker gets it (inline: none).

    Without a broker (REDIS_URL unset) tasks run inline, here; a task that fails then (a mail
    server down) is logged with its traceback and left for the sweeper, as a worker would,
    instead of turning the member's stored request into an error page.
    """

    task = task_named(name)

    def send() -> None:
        arguments = ", ".join(f"{key}={value}" for key, value in kwargs.items())
        try:
            if countdown:
                task.apply_async(kwargs=kwargs, countdown=countdown)
            else:
                task.delay(**kwargs)
        except OperationalError as exc:
            logger.warning(
                "Could not queue %s(%s) (%s); the sweeper will queue it again.",
                task.name,
                arguments,
                type(exc).__name__,
            )
            if on_failure is not None:
                on_failure()
        except Exception:
            if not app.conf.task_always_eager:
                raise
            logger.exception("Task %s(%s) failed when run inline.", task.name, arguments)

    transaction.on_commit(send)
