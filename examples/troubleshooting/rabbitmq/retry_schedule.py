"""Print when Dramatiq retries a message that keeps failing, with its defaults."""

from dramatiq.common import compute_backoff
from dramatiq.middleware.retries import DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF

MAX_RETRIES = 20  # The Retries middleware's default.
UNITS = [("days", 86_400_000), ("hours", 3_600_000), ("min", 60_000), ("s", 1000)]


def readable(ms: float) -> str:
    for name, size in UNITS:
        if ms >= size:
            return f"{ms / size:.3g} {name}"
    return f"{ms:.0f} ms"


shortest_total = longest_total = 0
for retry in range(MAX_RETRIES):
    # Without jitter, compute_backoff returns the base wait: 15 s, doubled
    # on each retry. The worker multiplies it by a random 1 to 2, and turns
    # anything above 7 days into a random 50 to 100% of 7 days.
    _, base = compute_backoff(
        retry, factor=DEFAULT_MIN_BACKOFF, max_backoff=DEFAULT_MAX_BACKOFF, jitter=False
    )
    shortest = min(base, DEFAULT_MAX_BACKOFF / 2)
    longest = min(2 * base, DEFAULT_MAX_BACKOFF)
    shortest_total += shortest
    longest_total += longest
    print(f"Retry {retry + 1:2}: {readable(shortest)} to {readable(longest)} later")
print(f"Dead letter: {readable(shortest_total)} to {readable(longest_total)} later")
