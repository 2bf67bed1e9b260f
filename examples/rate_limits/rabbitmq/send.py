"""Queue 30 lookups and two accounts' exports.

python send.py
"""

import sys

from tasks import BROKER_ERRORS, export_account, geocode

try:
    # 30 lookups: at 10 calls in 2 seconds, the workers need at least 4 seconds.
    for number in range(1, 31):
        geocode.send(f"{number} Main Street, Springfield")
    # Three exports of each account: each account's run one after the other.
    for account_id in (7, 8):
        for _ in range(3):
            export_account.send(account_id)
except BROKER_ERRORS as error:
    sys.exit(f"Cannot queue the work, the broker is unavailable: {error!r}")
print("Queued 30 lookups and 6 exports.")
