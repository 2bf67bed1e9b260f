"""What the scheduler sends, and when."""

import os
from zoneinfo import ZoneInfo

import dramatiq

import tasks

# The clock the cron expressions read, daylight-saving shifts included.
TIME_ZONE = ZoneInfo(os.environ.get("SCHEDULE_TIME_ZONE", "UTC"))

# Each job's name (kept with every tick it sends: never rename a job while a
# scheduler runs), its cron expression and its actor. Five fields: minute,
# hour, day of month, month, day of week; a sixth in front adds seconds.
SCHEDULE: dict[str, tuple[str, dramatiq.Actor]] = {
    "nightly-report": ("30 2 * * *", tasks.make_report),
    "forget-old-ticks": ("15 * * * *", tasks.forget_old_ticks),
}
