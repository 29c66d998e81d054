"""Periodic jobs the API runs beside requests (no-show sweeps, outbox delivery).

Each job is one short transaction that is safe to run in several API replicas at once: it only
moves rows whose state still allows it, so a second replica finds nothing left to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from backend.db import unit_of_work, writer
from backend.logs import get_logger
from backend.services.bookings.lifecycle import sweep_no_shows
from backend.services.money.invoices import settle_due_months
from backend.services.notifications.delivery import deliver_pending
from backend.settings import Settings, get_settings

log = get_logger("pilotshare.background")

Job = Callable[[Engine, Settings], object]


def no_show_job(engine: Engine, settings: Settings | None = None) -> object:
    with unit_of_work(writer(engine)) as session:
        marked = sweep_no_shows(session)
    if marked:
        log.info("bookings.no_show", bookings=marked)
    return marked


def delivery_job(engine: Engine, settings: Settings | None = None) -> object:
    """Send the due outbox messages (e-mail, webhooks); see backend.services.delivery."""
    report = deliver_pending(engine, settings or get_settings())
    if report.failed:
        log.warning("outbox.delivered", **report.as_dict(), note="failed messages keep last_error")
    elif report.sent or report.retrying:
        log.info("outbox.delivered", **report.as_dict())
    return report


def settlement_job(engine: Engine, settings: Settings | None = None) -> object:
    """From `PILOTSHARE_BILLING_SETTLE_DAY` on, invoice every platform's previous month (docs/billing.md)."""
    settings = settings or get_settings()
    if not settings.billing_settle_day:
        return []
    try:
        with unit_of_work(writer(engine)) as session:
            issued = settle_due_months(session, settings.billing_settle_day)
    except IntegrityError:
        log.info("billing.settled_elsewhere", note="another replica issued the same invoices first")
        return []
    if issued:
        log.info("billing.settled", invoices=[i.number for i in issued])
    return issued


JOBS: list[Job] = [no_show_job, delivery_job, settlement_job]


async def run_periodically(
    engine: Engine, every_seconds: float, jobs: list[Job] | None = None, settings: Settings | None = None
) -> None:
    """Run every job in a worker thread each `every_seconds`, until cancelled.

    Jobs get `settings` (the app's; the environment's when not given), e.g. the SMTP server to use."""
    settings = settings or get_settings()
    while True:
        for job in jobs or JOBS:
            try:
                await asyncio.to_thread(job, engine, settings)
            except Exception:  # one failing job must not stop the others or the loop
                log.exception("background.job_failed", job=getattr(job, "__name__", str(job)))
        await asyncio.sleep(every_seconds)
