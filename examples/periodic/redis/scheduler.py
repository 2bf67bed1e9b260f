"""The scheduler: sends each job's message once per tick of its cron expression.

Run one on each of two hosts, so that one can fail: the ticks table lets
exactly one of them send each tick.

    python scheduler.py
"""

# [docs:setup]
import argparse
import logging
import os
import signal
import socket
import threading
import time
from datetime import datetime

import dramatiq
import psycopg
from cronsim import CronSim

from database import connect
from schedule import SCHEDULE, TIME_ZONE
from tasks import BROKER_ERRORS

logger = logging.getLogger("scheduler")
# Who sent a tick, in the ticks table and in the logs.
SCHEDULER = f"{socket.gethostname()}:{os.getpid()}"
stopping = threading.Event()
# [docs:setup:end]


# [docs:send-once]
def send_once(job: str, actor: dramatiq.Actor, tick: datetime) -> bool:
    """Send ``actor``'s message for ``tick``, unless another scheduler has.

    True if this scheduler sent it.
    """
    with connect() as db, db.transaction():
        # The first scheduler to insert (job, tick) claims the tick. Another
        # one's insert waits for that transaction: it finds the row once the
        # first commits, and inserts its own if the first rolls back or dies.
        claimed = db.execute(
            "INSERT INTO ticks (job, tick, sent_by) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (job, tick, SCHEDULER),
        ).rowcount
        if claimed:
            # Inside the transaction: a failed send rolls the claim back, and
            # a waiting scheduler sends the tick instead.
            actor.send(tick.isoformat())
    return bool(claimed)


# [docs:send-once:end]


# [docs:fire]
def fire(job: str, actor: dramatiq.Actor, tick: datetime) -> None:
    """send_once(), logged; an unreachable broker or database skips the tick."""
    try:
        if send_once(job, actor, tick):
            logger.info("%s: sent the tick of %s.", job, tick)
        else:
            logger.info("%s: the tick of %s was sent by another scheduler.", job, tick)
    # psycopg.Error: also the error of a scheduler that froze, and whose
    # transaction PostgreSQL ended.
    except (*BROKER_ERRORS, psycopg.Error) as error:
        logger.error("%s: could not send the tick of %s: %r.", job, tick, error)


# [docs:fire:end]


# [docs:missed]
def latest_tick(expression: str, now: datetime) -> datetime:
    """The expression's last tick at or before ``now``."""
    return next(CronSim(expression, now, reverse=True))


def missed_tick(job: str, expression: str, now: datetime) -> datetime | None:
    """The job's latest tick, if no scheduler sent it but one sent an earlier tick.

    A job that never ran has nothing to catch up on.
    """
    with connect() as db:
        (last_sent,) = db.execute(
            "SELECT max(tick) FROM ticks WHERE job = %s", (job,)
        ).fetchone()
    due = latest_tick(expression, now)
    return due if last_sent is not None and last_sent < due else None


# [docs:missed:end]


# [docs:loop]
def wait_until(moment: datetime) -> bool:
    """Sleep until ``moment``; False if the scheduler is stopping first."""
    # Compare instants, not wall-clock times: subtracting two datetimes of
    # the same zone ignores a daylight-saving shift between them.
    while (left := moment.timestamp() - time.time()) > 0:
        # Wake at least every 30 s, so that a wall clock set forward or back
        # (NTP) is noticed within 30 s.
        if stopping.wait(min(left, 30)):
            return False
    return not stopping.is_set()


def missed_ticks(now: datetime) -> dict[str, datetime]:
    """Each job's missed tick, for the jobs that have one."""
    try:
        missed = {
            job: missed_tick(job, cron, now) for job, (cron, _) in SCHEDULE.items()
        }
    except psycopg.Error as error:
        # No database, or no tables: one line that says what to do.
        raise SystemExit(
            f"The scheduler cannot read its ticks table ({str(error).splitlines()[0]})."
            " Start PostgreSQL at DATABASE_URL, then create the tables:"
            " python database.py"
        ) from None
    return {job: tick for job, tick in missed.items() if tick}


def run() -> None:
    now = datetime.now(TIME_ZONE)
    missed = missed_ticks(now)
    logger.info("Scheduler %s started; cron times in %s.", SCHEDULER, TIME_ZONE)
    for job, tick in missed.items():
        logger.info("%s: no scheduler sent the tick of %s; sending it late.", job, tick)
        fire(job, SCHEDULE[job][1], tick)
    upcoming = {job: CronSim(cron, now) for job, (cron, _) in SCHEDULE.items()}
    due = {job: next(ticks) for job, ticks in upcoming.items()}
    for job, tick in due.items():
        logger.info("%s (%s): next tick %s.", job, SCHEDULE[job][0], tick)

    while True:
        job = min(due, key=lambda name: due[name].timestamp())
        if not wait_until(due[job]):
            break
        cron, actor = SCHEDULE[job]
        fire(job, actor, due[job])
        due[job] = next(upcoming[job])
        if due[job].timestamp() < time.time():
            # Sending took longer than the gap between ticks: send the latest
            # of the ticks missed meanwhile, once, and go on from now.
            now = datetime.now(TIME_ZONE)
            due[job] = latest_tick(cron, now)
            upcoming[job] = CronSim(cron, now)
    logger.info("Scheduler %s stopped.", SCHEDULER)


# [docs:loop:end]


# [docs:cli]
def print_upcoming(count: int, after: datetime) -> None:
    """Print each job's next ``count`` ticks after ``after``: check a schedule."""
    for job, (expression, _) in SCHEDULE.items():
        ticks = CronSim(expression, after)
        print(f"{job} ({expression}), {TIME_ZONE}:")
        for _ in range(count):
            print(f"  {next(ticks)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--upcoming", type=int, metavar="N",
        help="print each job's next N ticks and exit; send nothing",
    )  # fmt: skip
    parser.add_argument(
        "--after", type=datetime.fromisoformat, metavar="YYYY-MM-DDTHH:MM",
        help="with --upcoming: from this time of the schedule's zone, not now",
    )  # fmt: skip
    args = parser.parse_args()
    if args.upcoming:
        after = args.after.replace(tzinfo=TIME_ZONE) if args.after else None
        print_upcoming(args.upcoming, after or datetime.now(TIME_ZONE))
        return

    logging.basicConfig(
        level=logging.INFO,
        # Dramatiq's own format, so the scheduler's lines read like the worker's.
        format="[%(asctime)s] [PID %(process)d] [%(threadName)s] [%(name)s] "
        "[%(levelname)s] %(message)s",
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    run()


if __name__ == "__main__":
    main()
# [docs:cli:end]
