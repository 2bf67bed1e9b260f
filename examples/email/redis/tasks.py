"""The e-mail actor. The worker imports this module; so does the Flask app."""

# [docs:broker]
import logging
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from sent_log import already_sent, record_sent

client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(client=client)
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)

# What .send() raises when Redis cannot be reached, does not answer in time,
# or is full and refuses writes: redis-py's own errors, not Dramatiq's. And
# OSError when this process has no file descriptor left for a connection.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    OSError,
)
# [docs:broker:end]

# [docs:settings]
# Where to send mail. The default is the local test server from "Run it".
SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "8025"))
# Seconds to wait for each answer of the SMTP server before this attempt fails.
SMTP_TIMEOUT = float(os.environ.get("SMTP_TIMEOUT", "10"))
MAIL_FROM = os.environ.get("MAIL_FROM", "noreply@example.com")
# A real relay wants an encrypted connection and a login: set SMTP_STARTTLS=1,
# SMTP_USERNAME and SMTP_PASSWORD. The local test server needs neither.
SMTP_STARTTLS = os.environ.get("SMTP_STARTTLS", "0") == "1"
SMTP_USERNAME = os.environ.get("SMTP_USERNAME", "")
if SMTP_USERNAME and not SMTP_STARTTLS:
    # Refuse to start rather than send the password unencrypted.
    raise RuntimeError("SMTP_USERNAME is set: set SMTP_STARTTLS=1 as well.")

# After a transient failure, retry 8 times. Wait 30 s to 1 min before the
# first retry, twice as long before each next one, at most 15 minutes: the
# worker gives up after 37.5 to 75 minutes of waiting.
MAX_RETRIES = int(os.environ.get("EMAIL_MAX_RETRIES", "8"))
MIN_BACKOFF_MS = int(os.environ.get("EMAIL_MIN_BACKOFF_MS", "30000"))
MAX_BACKOFF_MS = int(os.environ.get("EMAIL_MAX_BACKOFF_MS", "900000"))

logger = logging.getLogger(__name__)
# [docs:settings:end]


class PermanentSMTPError(Exception):
    """The SMTP server refused the e-mail for good: sending it again cannot help."""


def is_permanent(error: smtplib.SMTPException) -> bool:
    """True for a 5xx reply, which means "never", and for a missing extension."""
    if isinstance(error, smtplib.SMTPNotSupportedError):
        # No STARTTLS or AUTH on this server: a retry meets the same server.
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # One (code, text) pair per refused recipient.
        codes = [code for code, _ in error.recipients.values()]
    else:
        # A dropped connection has no code: 0 counts as transient.
        codes = [getattr(error, "smtp_code", 0)]
    return all(500 <= code <= 599 for code in codes)


@dramatiq.actor(
    queue_name="email",
    max_retries=MAX_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
    # Not retried: the message goes straight to the dead-letter queue.
    throws=(PermanentSMTPError,),
)
def send_email(email_id: str, to: str, subject: str, body: str) -> None:
    if already_sent(email_id):
        logger.info("E-mail %s was sent before; skipping this copy.", email_id)
        return

    message = EmailMessage()
    message["From"] = MAIL_FROM
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    # Every attempt sends the same Message-ID, so a duplicate is recognizable.
    message["Message-ID"] = f"<{email_id}@{MAIL_FROM.rpartition('@')[2]}>"
    message.set_content(body)

    try:
        with smtplib.SMTP(SMTP_HOST, SMTP_PORT, timeout=SMTP_TIMEOUT) as smtp:
            if SMTP_STARTTLS:
                # Encrypt the connection, checking the server's certificate,
                # before the password crosses it.
                smtp.starttls(context=ssl.create_default_context())
            if SMTP_USERNAME:
                # Read the password only here: no module variable holds it.
                smtp.login(SMTP_USERNAME, os.environ.get("SMTP_PASSWORD", ""))
            # to_addrs: send to this one address, whatever the headers say.
            smtp.send_message(message, to_addrs=[to])
    except smtplib.SMTPException as error:
        if is_permanent(error):
            # The worker logs only the exception's type: log the reply here.
            logger.warning("Not retrying e-mail %s to %s: %s", email_id, to, error)
            raise PermanentSMTPError(str(error)) from error
        raise  # A 4xx reply or a dropped connection: Dramatiq retries it.

    record_sent(email_id)
    logger.info("Sent e-mail %s to %s.", email_id, to)
