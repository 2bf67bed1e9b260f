"""Queue one message of each kind that the page counts.

python send.py
"""

from tasks import always_fails, crunch

# Dead at once: the worker moves it to the dead-letter queue.
always_fails.send()
# Five jobs of a minute: one runs, one waits in the worker, three in the queue.
for _ in range(5):
    crunch.send(60)
# Two jobs for an hour from now: they wait in the delay queue until then.
for _ in range(2):
    crunch.send_with_options(args=(1,), delay=3_600_000)
print("Queued 8 messages.")
