"""Helpers that several examples copy stay the same wherever they are copied.

A reader who copies the quickstart's form_int() and the results page's gets
one function, not two that drift apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support.examples import EXAMPLES

SHARED = [
    "form_int",
    "form_address",
    "form_url",
    "refuse_cut_off_body",
    "json_error",
]


def copies(function: str) -> dict[str, str]:
    """The source of every definition of ``function`` in examples/, by file.

    Decorators and docstrings are left out (a page may say why the function
    is there in its own words), and a blueprint's ``current_app`` reads as
    the module's ``app``: that is the one stated difference of
    examples/factory.
    """
    found = {}
    for path in sorted(EXAMPLES.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.name == function:
                node.decorator_list = []
                if ast.get_docstring(node) is not None:
                    node.body = node.body[1:]
                text = ast.unparse(node).replace("current_app.", "app.")
                found[str(path.relative_to(EXAMPLES))] = text
    return found


@pytest.mark.parametrize("function", SHARED)
def test_every_copy_of_a_shared_helper_is_the_same(function: str) -> None:
    found = copies(function)
    assert len(found) >= 4, f"{function} is copied in fewer places than expected"
    first_path, first = next(iter(found.items()))
    differ = [path for path, text in found.items() if text != first]
    assert not differ, f"{function} differs from {first_path} in: {differ}"


def test_every_app_refuses_a_cut_off_body() -> None:
    apps = {
        str(path.relative_to(EXAMPLES))
        for path in [*EXAMPLES.glob("*/*/app.py"), *EXAMPLES.glob("*/*/*/views.py")]
        if "@app.post" in path.read_text() or "@bp.post" in path.read_text()
    }
    assert apps <= set(copies("refuse_cut_off_body")), "an app without the check"


def test_every_copy_of_publish_timeout_is_the_same() -> None:
    """Each RabbitMQ folder that uses the middleware has its own identical copy."""
    users = [
        path
        for path in sorted(EXAMPLES.glob("*/rabbitmq/**/*.py"))
        if "from publish_timeout import" in path.read_text()
        or "from myapp.publish_timeout import" in path.read_text()
    ]
    assert users, "no example uses publish_timeout.py"
    copies = sorted({path.parent / "publish_timeout.py" for path in users})
    assert all(copy.is_file() for copy in copies), copies
    first = copies[0].read_bytes()
    differ = [
        str(copy.relative_to(EXAMPLES)) for copy in copies if copy.read_bytes() != first
    ]
    assert not differ, f"publish_timeout.py differs from {copies[0]} in: {differ}"
    # It uses pika's internals: each project that has it pins pika, as the
    # middleware's docstring says.
    unpinned = [
        str(copy.relative_to(EXAMPLES))
        for copy in copies
        if "pika>=1.4,<1.5"
        not in example_root(copy).joinpath("requirements.txt").read_text()
    ]
    assert not unpinned, f"requirements.txt does not pin pika for: {unpinned}"


def example_root(path: Path) -> Path:
    """The example folder (examples/<topic>/<broker>) that holds ``path``."""
    return (
        EXAMPLES
        / path.relative_to(EXAMPLES).parts[0]
        / path.relative_to(EXAMPLES).parts[1]
    )


# Examples that build on the quickstart's app unchanged: a page that starts
# from its files (deployment, testing) must not show a different app.
SAME_APP_AS_QUICKSTART = ["deployment", "testing"]


@pytest.mark.parametrize("topic", SAME_APP_AS_QUICKSTART)
def test_examples_that_start_from_the_quickstart_keep_its_app(topic: str) -> None:
    for broker in ("rabbitmq", "redis"):
        quickstart = (EXAMPLES / "quickstart" / broker / "app.py").read_bytes()
        assert (EXAMPLES / topic / broker / "app.py").read_bytes() == quickstart


# How every example builds its broker: the same bounded client everywhere,
# keyword arguments sorted, unless the file is listed below with its reason.
BROKER_CALLS = {
    "redis.Redis.from_url": "socket_connect_timeout=2, socket_timeout=2",
    "RedisBroker": "client=client",
    "RabbitmqBroker": (
        "confirm_delivery=True, url=os.environ.get('RABBITMQ_URL', "
        "'amqp://127.0.0.1:5672')"
    ),
}
BROKER_ERRORS = {
    "redis": "(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, "
    "redis.exceptions.OutOfMemoryError, OSError)",
    "rabbitmq": "(dramatiq.errors.BrokerConnectionError, AMQPConnectorException, "
    "OSError)",
}
BROKEN_ON_PURPOSE = "the BROKEN module of troubleshooting's first problem"
DIFFERENT_ON_PURPOSE = {
    "reliability/redis/tasks.py": "a 10 s heartbeat and maintenance on every call",
    "hosts/redis/tasks.py": "a 10 s heartbeat: a lost host's messages come back soon",
    "ha/redis/tasks.py": "Sentinel, and the 10 s heartbeat of hosts/",
    "autoscaling/redis/tasks.py": "the 10 s heartbeat of hosts/",
    "ha/rabbitmq/tasks.py": "quorum queues, and a bound for each node of the URL",
    "troubleshooting/redis/late_broker.py": BROKEN_ON_PURPOSE,
    "troubleshooting/rabbitmq/late_broker.py": BROKEN_ON_PURPOSE,
    "deployment/rabbitmq/tasks.py": "ssl.SSLError: a TLS handshake can fail",
    "progress/rabbitmq/tasks.py": "decode_responses: the progress is read as text",
    "progress/redis/tasks.py": "decode_responses: the progress is read as text",
    "flask_melodramatiq/rabbitmq/app.py": "the library's lazy broker, which fails",
    "flask_melodramatiq/redis/app.py": "the library's lazy broker, which fails",
}


def test_every_example_builds_its_broker_the_same_way() -> None:
    differ = []
    for path in sorted(EXAMPLES.glob("*/*/**/*.py")):
        name = str(path.relative_to(EXAMPLES))
        if ".venv" in path.parts or name in DIFFERENT_ON_PURPOSE:
            continue
        broker = path.relative_to(EXAMPLES).parts[1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in BROKER_CALLS:
                keywords = ", ".join(sorted(ast.unparse(k) for k in node.keywords))
                if keywords != BROKER_CALLS[ast.unparse(node.func)]:
                    differ.append(f"{name}: {ast.unparse(node)}")
            target = getattr(node, "target", None) or next(
                iter(getattr(node, "targets", [])), None
            )
            errors = isinstance(target, ast.Name) and target.id == "BROKER_ERRORS"
            if errors and ast.unparse(node.value) != BROKER_ERRORS[broker]:
                differ.append(f"{name}: BROKER_ERRORS = {ast.unparse(node.value)}")
    assert not differ, "a broker built unlike the others, with no reason listed"


# Files a page takes whole from an earlier page's example, for each broker.
COPIED_WHOLE = {
    "health.py": ["health", "autoscaling"],
    "app.py": ["hosts", "ha", "autoscaling"],
    "database.py": ["hosts", "ha", "autoscaling"],
    "myapp/broker.py": ["factory", "database"],
    "myapp/middleware.py": ["factory", "database"],
}


@pytest.mark.parametrize("name", sorted(COPIED_WHOLE))
@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_a_file_taken_from_an_earlier_page_stays_the_same(
    name: str, broker: str
) -> None:
    first, *others = [EXAMPLES / topic / broker / name for topic in COPIED_WHOLE[name]]
    differ = [
        str(copy.relative_to(EXAMPLES))
        for copy in others
        if copy.read_bytes() != first.read_bytes()
    ]
    assert not differ, f"{name} differs from {first.relative_to(EXAMPLES)} in: {differ}"
