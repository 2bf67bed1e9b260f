"""docs/autoscaling.rst: the worker Deployment and KEDA's ScaledObject.

No Kubernetes cluster or KEDA runs the tests. worker.yaml is checked against
Kubernetes' own schemas (kubernetes-validate), scaledobject.yaml against
KEDA's (tests/support/schemas/keda), both strictly: a misspelt field fails.
Then what the pages promise of them: the pod runs the Procfile's worker;
every import ends before the worker's shutdown timeout, which ends before
Kubernetes' SIGKILL; the triggers read the actor's queue and its delay
queue, one pod for each pod's worth of messages. The cluster tests
(test_autoscaling_keda.py) run them.
"""

from __future__ import annotations

import json
import shlex

import jsonschema
import kubernetes_validate
import pytest

from support.autoscaling import (
    SCHEMAS,
    TARGET,
    TRIGGER_METADATA,
    documents,
    option,
    scaled_object,
    worker_container,
    worker_deployment,
)
from support.examples import Example, example_params


@pytest.fixture(name="example", params=example_params("autoscaling"))
def fixture_example(request: pytest.FixtureRequest) -> Example:
    return Example(request.param)


def strict(schema: object) -> object:
    """``schema``, refusing the fields it does not name, as
    ``kubectl apply --validate=strict`` does (Kubernetes drops them quietly)."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [strict(item) for item in schema]
    return schema


def keda_errors(document: dict) -> list[str]:
    name = f"{document['kind'].lower()}-v1alpha1.json"
    schema = strict(json.loads((SCHEMAS / name).read_text()))
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_strict_schema_refuses_a_misspelt_field() -> None:
    """The check below can fail: KEDA's schema, made strict, names the field."""
    document = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x"},
        "spec": {
            "scaleTargetRef": {"name": "x"},
            "minReplicas": 0,
            "triggers": [{"type": "cron", "metadata": {}}],
        },
    }
    assert keda_errors(document) == [
        "spec: Additional properties are not allowed ('minReplicas' was unexpected)"
    ]


@pytest.mark.smoke
def test_the_manifests_are_valid(example: Example) -> None:
    deployment = worker_deployment(example.path)
    kubernetes_validate.validate(
        deployment, kubernetes_validate.latest_version(), strict=True
    )
    for document in documents(example.path / "scaledobject.yaml").values():
        assert keda_errors(document) == [], document["kind"]
    # Shown once on the page: the same for both brokers.
    assert (example.path / "worker.yaml").read_text() == (
        example.path.parent / "rabbitmq" / "worker.yaml"
    ).read_text()


def test_the_pod_runs_the_procfile_worker_and_probes_its_heartbeats(
    example: Example,
) -> None:
    container = worker_container(example.path)
    command = shlex.join(container["command"])
    assert command == example.procfile_command("worker")
    assert example.commands("worker-host") == [command]
    assert container["livenessProbe"]["exec"]["command"] == shlex.split(
        *example.commands("live")
    )
    assert "readinessProbe" not in container  # A worker takes no requests.
    # KEDA sets the number of pods; a number here would undo it at each apply.
    assert "replicas" not in worker_deployment(example.path)["spec"]
    assert container["envFrom"] == [{"secretRef": {"name": "flask-app"}}]


def test_every_import_ends_before_the_pod_is_killed(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The actor's time limit < --worker-shutdown-timeout < the grace period."""
    actor = example.load("tasks", monkeypatch).import_feed
    command = worker_container(example.path)["command"]
    grace_ms = (
        worker_deployment(example.path)["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"
        ]
        * 1000
    )
    shutdown_ms = option(command, "--worker-shutdown-timeout")
    assert actor.options["time_limit"] < shutdown_ms < grace_ms
    # Room for the worker to start its shutdown and give messages back.
    assert grace_ms - shutdown_ms >= 5000


def test_the_triggers_read_the_queue_and_its_delay_queue(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = example.load("tasks", monkeypatch).import_feed.queue_name
    scaled = scaled_object(example.path)
    assert (
        scaled["spec"]["scaleTargetRef"]["name"]
        == (worker_deployment(example.path)["metadata"]["name"])
    )
    work, delayed = scaled["spec"]["triggers"]
    for trigger in (work, delayed):
        assert set(trigger["metadata"]) <= TRIGGER_METADATA[trigger["type"]]
    if example.broker.name == "rabbitmq":
        names = [t["metadata"]["queueName"] for t in (work, delayed)]
        assert names == [queue, f"{queue}.DQ"]
    else:
        # The hashes of messages not yet acknowledged, not the lists of ready
        # ones: Dramatiq's Redis broker keeps each message there until done.
        names = [t["metadata"]["listName"] for t in (work, delayed)]
        assert names == [f"dramatiq:{queue}.msgs", f"dramatiq:{queue}.DQ.msgs"]
    # A pod holds 2 messages per thread (Dramatiq's prefetch): one pod for
    # each pod's worth.
    command = worker_container(example.path)["command"]
    held = 2 * option(command, "--processes") * option(command, "--threads")
    assert float(work["metadata"][TARGET[work["type"]]]) == held
    # A worker process holds up to 1,000 delayed messages per thread: one pod
    # for any number of them.
    assert float(delayed["metadata"][TARGET[delayed["type"]]]) >= 1000 * held / 2
    # Each trigger signs in with the TriggerAuthentication of the file.
    auth = documents(example.path / "scaledobject.yaml")["TriggerAuthentication"]
    for trigger in (work, delayed):
        assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
