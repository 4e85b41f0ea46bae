"""Tasks for Discord delivery: one sending run, and the sweeper."""

from __future__ import annotations

from celery import shared_task

from newsletter.services import delivery, delivery_run


def _in_a_worker(task) -> bool:
    """True when a worker runs the task; False when it runs inline (no broker, or called as a
    function), where a delivery waits out rate limits instead of queueing its continuation."""
    return not (task.request.is_eager or task.request.called_directly)


@shared_task(name="newsletter.deliver", acks_late=True, bind=True)
def deliver(self, *, delivery_id: int) -> None:
    """Post, edit or delete a delivery's messages in order; safe to run twice or after a crash."""
    delivery_run.delivery_send(delivery_id=delivery_id, yield_to_others=_in_a_worker(self))


@shared_task(name="newsletter.sweep_deliveries")
def sweep_deliveries() -> int:
    """Queue again deliveries a killed worker or a down broker left behind (beat, every 5 s)."""
    return delivery.delivery_sweep()
