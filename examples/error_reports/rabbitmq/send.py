"""Queue the import of one feed, and print the message's id.

python send.py URL
"""

import sys

from tasks import import_feed

message = import_feed.send(sys.argv[1])
print(f"Queued message {message.message_id}.")
