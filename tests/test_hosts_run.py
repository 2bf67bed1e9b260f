"""Scale out, "Run it on several hosts": the page's commands, each on its host.

The broker, the database, the web app and each worker run in sandboxes of
their own on one private network (support/scale_out.py). A request from
this machine reaches the web host; a worker host imports the feed; the web
host answers with the record the worker wrote in the shared database.
"""

from __future__ import annotations

import json
import shlex
import subprocess

from markers import marked_lines
from support.processes import wait_for
from support.scale_out import CLUSTER, WORKERS, Hosts, machines_fixture

pytestmark = CLUSTER

fixture_machines = machines_fixture("hosts")


def curl(machines: Hosts, section: str, **replace: str) -> str:
    """Run a curl command of the page from this machine, the reader's laptop.

    The page's import fetches https://example.com/; the hosts have no way
    out of their network, so the test's feed server stands in for it.
    """
    command = " ".join(marked_lines(machines.folder / "commands.sh", section))
    command = command.replace("\\ ", "")
    for old, new in replace.items():
        assert old in command, (old, command)
        command = command.replace(old, new)
    return subprocess.run(
        shlex.split(command), capture_output=True, text=True, timeout=10, check=True
    ).stdout


def test_a_worker_host_imports_what_the_web_host_queued(machines: Hosts) -> None:
    worker = machines.start_worker_host(WORKERS[0])
    feed = machines.feeds.url("first")

    answer = curl(machines, "request", **{"https://example.com/": feed})

    head, _, body = answer.partition("\n\n")
    assert head.startswith("HTTP/1.1 202"), answer
    import_id = json.loads(body)["import_id"]
    assert f"Location: /imports/{import_id}" in head.splitlines()
    shown_id = "3f2b8a1e-6c1d-4e6b-9a4f-0d2c5e7b9a10"

    def status() -> str:
        return curl(machines, "status", **{shown_id: import_id})

    answers = []
    wait_for(
        lambda: answers.append(json.loads(status())) or "state" in answers[-1],
        timeout=30,
        what=f"the import to be done:\n{machines.log(worker, 'worker')}",
    )
    assert answers[-1] == {"state": "done", "size": 11}
    assert answers[0] in (
        {"state": "done", "size": 11},
        {"error": f"Import {import_id} is not done, or does not exist."},
    )
    # The worker host fetched the feed: not the web host, not this machine.
    assert [fetch.host for fetch in machines.feeds.fetches] == [worker.address]
