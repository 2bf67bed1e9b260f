"""docs/services.rst, 'Run it all with Docker Compose'.

No Docker engine runs the tests, so compose.yaml is validated against the
Compose Specification's JSON schema (as check-jsonschema ships it) and its
promises are read from the parsed file, with the Dockerfile and
.dockerignore next to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import metadata
from urllib.parse import urlsplit

from support.deployment import (
    WEB_ADDRESS,
    compose,
    compose_file_errors,
    env_file,
    fixture_files,  # noqa: F401  (the fixture "files")
    split_env,
)
from support.examples import Example


def test_compose_file_is_valid_against_the_compose_specification(
    files: Example,
) -> None:
    assert compose_file_errors(files.path / "compose.yaml") == ""


def test_compose_runs_the_procfile_commands(files: Example) -> None:
    services = compose(files)["services"]
    # The worker runs the Procfile's worker command; the variables its env
    # prefix sets (on Redis, the poll cap) go to the container's environment.
    variables, command = split_env(files.procfile_command("worker"))
    assert services["worker"]["command"] == command
    for name, value in variables.items():
        assert services["worker"]["environment"][name] == value
    # gunicorn too, bound to every interface of its container instead of
    # 127.0.0.1, and published on the host's loopback only.
    web = files.procfile_command("web")
    assert services["web"]["command"] == web.replace(WEB_ADDRESS, "0.0.0.0:8000")
    assert services["web"]["ports"] == [f"{WEB_ADDRESS}:8000"]
    assert services["web"]["build"] == services["worker"]["build"] == "."


def test_web_and_worker_wait_for_a_healthy_broker(files: Example) -> None:
    services = compose(files)["services"]
    broker = services[files.broker.name]
    assert broker["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {
            files.broker.name: {"condition": "service_healthy"}
        }, name


def test_broker_keeps_its_data_in_a_named_volume(files: Example) -> None:
    config = compose(files)
    [volume] = config["services"][files.broker.name]["volumes"]
    name, _, target = volume.partition(":")
    assert name in config["volumes"]
    data = {"rabbitmq": "/var/lib/rabbitmq", "redis": "/data"}
    assert target == data[files.broker.name]


def strings(node: object) -> Iterator[str]:
    """Every string value in a parsed YAML document, comments left out."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def test_broker_url_holds_only_variables_from_the_env_file(files: Example) -> None:
    config = compose(files)
    worker_variables, _ = split_env(files.procfile_command("worker"))
    for name, others in (("web", []), ("worker", list(worker_variables))):
        environment = config["services"][name]["environment"]
        assert list(environment) == [files.broker.url_variable, *others], name
        url = urlsplit(environment[files.broker.url_variable])
        assert url.hostname == files.broker.name, "the broker's service name"
        assert re.fullmatch(r"\$\{\w+\}", url.password), "a variable, no secret"

    # Every ${NAME} comes from .env.example, whose secrets are left blank.
    uses = re.findall(r"\$\{(\w+)([^}]*)\}", " ".join(strings(config)))
    defaults = env_file(files.path / ".env.example")
    assert {name for name, _ in uses} == set(defaults)
    secrets = {name for name in defaults if "PASSWORD" in name}
    assert secrets and all(defaults[name] == "" for name in secrets)
    # Compose stops, naming the variable, when one is unset or empty.
    checked = {name for name, how in uses if how.startswith(":?")}
    assert checked == set(defaults)


def test_dotenv_is_kept_out_of_the_image(files: Example) -> None:
    ignored = (files.path / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored
    assert ".venv" in ignored


def test_image_is_an_official_python_slim_run_by_a_non_root_user(
    files: Example,
) -> None:
    instructions = [
        line.split(maxsplit=1)
        for line in (files.path / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(" ")
    ]
    [(_, image)] = [i for i in instructions if i[0] == "FROM"]
    version = re.fullmatch(r"python:(3\.\d+)-slim", image).group(1)
    supported = metadata.metadata("dramatiq").get_all("Classifier")
    assert f"Programming Language :: Python :: {version}" in supported
    # The user is set last, after everything that needs root: a user id
    # other than root's 0, which the image creates.
    keyword, uid = instructions[-1]
    assert keyword == "USER" and uid.isdigit() and int(uid) != 0
    assert any(
        i[0] == "RUN" and i[1].startswith("useradd") and f"--uid {uid} " in i[1]
        for i in instructions
    )
    # Requirements are installed before the code is copied, so a code change
    # does not reinstall them.
    assert instructions.index(["COPY", "requirements.txt ."]) < instructions.index(
        ["COPY", ". ."]
    )
