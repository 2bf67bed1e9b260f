"""List the dead letters of a queue, or send them back to it once you fixed the cause.

Run it from the worker's folder, with the worker's environment:

    python dead_letters.py list reliability
    python dead_letters.py replay reliability
"""

import argparse
import dataclasses

import pika
from dramatiq import Message
from dramatiq.common import xq_name

from tasks import broker

# What Dramatiq's Retries middleware adds to a message each time it fails.
# Without it, a replayed message gets its whole retry budget again.
RETRY_STATE = ("retries", "traceback", "requeue_timestamp")


def describe(message: Message) -> str:
    """One line per dead letter: its id, the call, its retries and its last error."""
    last_error = message.options.get("traceback", "").strip().rpartition("\n")[2]
    retries = message.options.get("retries", 0)
    call = f"{message.actor_name}{message.args}"
    return f"{message.message_id} {call} retries={retries} {last_error}"


def replayable(message: Message) -> Message:
    """The message as it was first sent: same id and arguments, no retry state."""
    options = {k: v for k, v in message.options.items() if k not in RETRY_STATE}
    return dataclasses.replace(message, options=options)


def list_dead(queue_name: str) -> int:
    """Print the dead letters of ``queue_name`` and leave them where they are."""
    with pika.BlockingConnection(broker.parameters) as connection:
        channel = connection.channel()
        # passive=True: count the messages, and never create the queue.
        xq = channel.queue_declare(xq_name(queue_name), passive=True)
        count = xq.method.message_count
        for _ in range(count):
            method, _, body = channel.basic_get(xq_name(queue_name))
            if method is None:
                break
            print(describe(Message.decode(body)))
    # The messages were never acknowledged: closing the connection puts
    # them back in the dead-letter queue, in their order.
    return count


def replay(queue_name: str) -> int:
    """Move the dead letters of ``queue_name`` back to it, with a new retry budget."""
    replayed = 0
    with pika.BlockingConnection(broker.parameters) as connection:
        channel = connection.channel()
        xq = channel.queue_declare(xq_name(queue_name), passive=True)
        # Only the messages there now: one that fails again comes back after
        # its retries, and waits for your next replay.
        for _ in range(xq.method.message_count):
            method, _, body = channel.basic_get(xq_name(queue_name))
            if method is None:
                break
            broker.enqueue(replayable(Message.decode(body)))
            # Drop the dead letter once RabbitMQ has confirmed the copy. A
            # crash in between replays it twice, never zero times.
            channel.basic_ack(method.delivery_tag)
            replayed += 1
    return replayed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("queue", help="the queue whose dead letters to use")
    args = parser.parse_args()
    if args.command == "list":
        count = list_dead(args.queue)
        print(f"{count} dead letter(s) in {args.queue}.")
    else:
        count = replay(args.queue)
        print(f"Replayed {count} dead letter(s) to {args.queue}.")


if __name__ == "__main__":
    main()
