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
import time
from datetime import datetime, timedelta, timezone
from itertools import chain

import dramatiq
import psycopg
from cronsim import CronSim

from database import connect
from schedule import SCHEDULE, TIME_ZONE
from tasks import BROKER_ERRORS

logger = logging.getLogger("scheduler")
# Who sent each tick, in the ticks table and in the logs: host and process.
SCHEDULER = f"{socket.gethostname()}:{os.getpid()}"
# How soon to try a tick again after its send failed.
RETRY_AFTER = timedelta(seconds=5)
stop_requested = False
# [docs:setup:end]


# [docs:send-once]
def claim(db: psycopg.Connection, job: str, tick: datetime) -> bool:
    """Claim ``tick`` in the open transaction; False if another scheduler has."""
    # Bound this transaction only: wait at most 15 s for another scheduler's
    # claim, and end the transaction if this scheduler freezes for 10 s, so
    # that the other one can claim the tick instead.
    db.execute("SET LOCAL lock_timeout = '15s'")
    db.execute("SET LOCAL idle_in_transaction_session_timeout = '10s'")
    # The first scheduler to insert (job, tick) claims the tick. Another
    # one's insert waits for that transaction: it finds the row once the
    # first commits, and inserts its own if the first rolls back or dies.
    inserted = db.execute(
        "INSERT INTO ticks (job, tick, sent_by) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (job, tick, SCHEDULER),
    ).rowcount
    return inserted == 1


def send_once(job: str, actor: dramatiq.Actor, tick: datetime) -> bool:
    """Send ``actor``'s message for ``tick`` unless another scheduler has.

    True if this scheduler sent it.
    """
    with connect() as db, db.transaction():
        if not claim(db, job, tick):
            return False
        # Inside the transaction: a failed send rolls the claim back, and a
        # waiting scheduler sends the tick instead.
        actor.send(tick.isoformat())
    return True


# [docs:send-once:end]


# [docs:fire]
def fire(job: str, actor: dramatiq.Actor, tick: datetime) -> bool:
    """send_once(), logged. False if the tick's message may not be out yet."""
    try:
        if send_once(job, actor, tick):
            logger.info("%s: sent the tick of %s.", job, tick)
        else:
            logger.info("%s: the tick of %s was sent by another scheduler.", job, tick)
        return True
    except (*BROKER_ERRORS, psycopg.Error) as error:
        # A broker or a database that does not answer: the loop tries again.
        logger.error("%s: could not send the tick of %s: %r.", job, tick, error)
    except Exception:
        # Any other error must not stop the scheduler either.
        logger.exception("%s: could not send the tick of %s.", job, tick)
    return False


# [docs:fire:end]


# [docs:missed]
def latest_tick(expression: str, now: datetime) -> datetime:
    """The expression's last tick before ``now``."""
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


# [docs:missed:end]


# [docs:loop]
def wait_until(moment: datetime) -> bool:
    """Sleep until ``moment``; False if the scheduler was asked to stop."""
    # Compare instants: subtracting two times of one zone would ignore a
    # daylight-saving shift between them. Sleep a second at a time, to
    # stop within a second of SIGTERM.
    while not stop_requested and (left := moment.timestamp() - time.time()) > 0:
        time.sleep(min(left, 1))
    return not stop_requested


def run() -> None:
    now = datetime.now(TIME_ZONE)
    missed = missed_ticks(now)
    logger.info("Scheduler %s started; cron times in %s.", SCHEDULER, TIME_ZONE)
    # Each job's tick to send, the tick after it, and when to try to send.
    upcoming = {job: CronSim(cron, now) for job, (cron, _) in SCHEDULE.items()}
    due = {job: next(ticks) for job, ticks in upcoming.items()}
    following = {job: next(ticks) for job, ticks in upcoming.items()}
    for job, tick in due.items():
        logger.info("%s (%s): next tick %s.", job, SCHEDULE[job][0], tick)
    for job, tick in missed.items():
        logger.info("%s: no scheduler sent the tick of %s; sending it late.", job, tick)
        upcoming[job] = chain([following[job]], upcoming[job])
        due[job], following[job] = tick, due[job]
    attempt = dict(due)

    while True:
        job = min(attempt, key=lambda name: attempt[name].timestamp())
        if not wait_until(attempt[job]):
            break
        cron, actor = SCHEDULE[job]
        retry_at = datetime.now(timezone.utc) + RETRY_AFTER
        if (
            not fire(job, actor, due[job])
            and retry_at.timestamp() < following[job].timestamp()
        ):
            attempt[job] = retry_at
            continue
        # Sent, or retried until the next tick: go on to the next tick.
        due[job], following[job] = following[job], next(upcoming[job])
        if following[job].timestamp() < time.time():
            # Sending took longer than the gap between ticks: send only the
            # latest of the ticks missed meanwhile, and go on from now.
            now = datetime.now(TIME_ZONE)
            upcoming[job] = CronSim(cron, now)
            due[job], following[job] = latest_tick(cron, now), next(upcoming[job])
        attempt[job] = due[job]
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


def request_stop(signum: int, frame: object) -> None:
    # Only set a flag: the loop checks it every second, between ticks.
    global stop_requested
    stop_requested = True


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
    if args.after and args.upcoming is None:
        parser.error("--after needs --upcoming")
    if args.upcoming is not None:
        after = args.after or datetime.now(TIME_ZONE)
        if after.tzinfo is None:
            after = after.replace(tzinfo=TIME_ZONE)
        print_upcoming(args.upcoming, after.astimezone(TIME_ZONE))
        return

    logging.basicConfig(
        level=logging.INFO,
        # Dramatiq's own format, so the scheduler's lines read like the worker's.
        format="[%(asctime)s] [PID %(process)d] [%(threadName)s] [%(name)s] "
        "[%(levelname)s] %(message)s",
    )
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    run()


if __name__ == "__main__":
    main()
# [docs:cli:end]
