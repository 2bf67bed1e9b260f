"""Do not do this: an actor that waits for its own group.

The page runs it with one worker thread to show the deadlock.
"""

import dramatiq
from dramatiq import group

from tasks import count_words


@dramatiq.actor(queue_name="groups", max_retries=0)
def count_and_wait(texts: list[str]) -> int:
    counts = group(count_words.message(text) for text in texts).run()
    # Holds this worker thread until every count is stored. Dramatiq would
    # wait 10 s; the result store's 2 s socket timeout ends the wait first,
    # with a redis TimeoutError.
    return sum(counts.get_results(block=True))
