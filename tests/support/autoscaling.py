"""The Scale workers page's manifests, read the way Kubernetes and KEDA read them.

No Kubernetes cluster or KEDA runs here. ``keda_metric()`` asks the broker
what KEDA 2.20's scaler of a trigger asks it (pkg/scalers/rabbitmq_scaler.go
and redis_scaler.go): RabbitMQ's management API for one queue's
``messages`` (``messages_ready`` with excludeUnacknowledged), or Redis for
the length of a key by its type (HLEN for a hash, LLEN for a list). And
``desired_pods()`` turns the triggers' numbers into a pod count the way the
HorizontalPodAutoscaler KEDA makes does: the most pods any trigger asks for.
"""

from __future__ import annotations

import json
import math
import urllib.request
from base64 import b64encode
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import yaml

from support.scale_out import BROKER, Hosts

SCHEMAS = Path(__file__).parent / "schemas" / "keda"

# The metadata each trigger type takes in KEDA 2.20 (the keda:"name=..." tags
# of the two scalers): the CRD's schema allows any key, KEDA ignores unknown
# ones, and a misspelt key would silently fall back to a default.
TRIGGER_METADATA = {
    "rabbitmq": {
        "queueName",
        "mode",
        "queueLength",
        "value",
        "activationValue",
        "host",
        "protocol",
        "vhostName",
        "useRegex",
        "excludeUnacknowledged",
        "pageSize",
        "operation",
        "timeout",
        "unsafeSsl",
        "hostFromEnv",
    },
    "redis": {
        "address",
        "host",
        "port",
        "username",
        "password",
        "listName",
        "listLength",
        "activationListLength",
        "databaseIndex",
        "enableTLS",
        "unsafeSsl",
        "addressFromEnv",
        "hostFromEnv",
        "portFromEnv",
        "usernameFromEnv",
        "passwordFromEnv",
    },
}
# What a trigger's number is divided by: the pods it asks for.
TARGET = {"rabbitmq": "value", "redis": "listLength"}


def documents(path: Path) -> dict[str, dict]:
    """The documents of a manifest file, by kind."""
    return {doc["kind"]: doc for doc in yaml.safe_load_all(path.read_text())}


def worker_deployment(folder: Path) -> dict:
    return documents(folder / "worker.yaml")["Deployment"]


def worker_container(folder: Path) -> dict:
    [container] = worker_deployment(folder)["spec"]["template"]["spec"]["containers"]
    return container


def option(command: list[str], name: str) -> int:
    return int(command[command.index(name) + 1])


def scaled_object(folder: Path) -> dict:
    return documents(folder / "scaledobject.yaml")["ScaledObject"]


def keda_secret(machines: Hosts) -> dict[str, str]:
    """The values of the Secret that scaledobject.yaml's comment creates."""
    if machines.broker_name == "rabbitmq":
        password = machines.secrets["KEDA_PASSWORD"]
        return {"host": f"http://keda:{password}@{BROKER}:15672"}
    return {"address": f"{BROKER}:6379", "password": machines.secrets["REDIS_PASSWORD"]}


def keda_metric(trigger: dict, auth: dict[str, str]) -> int:
    """The number KEDA's scaler reads for ``trigger``, with the Secret's
    values ``auth`` (those its TriggerAuthentication names)."""
    metadata = trigger["metadata"]
    if trigger["type"] == "rabbitmq":
        assert metadata["protocol"] == "http" and metadata["mode"] == "QueueLength"
        # The scaler's own request, for one queue of the default vhost "/".
        url = urlsplit(auth["host"])
        credentials = f"{unquote(url.username)}:{unquote(url.password)}".encode()
        request = urllib.request.Request(
            f"{url.scheme}://{url.hostname}:{url.port}/api/queues/%2F/"
            + quote(metadata["queueName"], safe=""),
            # The URL's user and password, sent with the first request, as
            # KEDA's HTTP client sends them.
            headers={"Authorization": "Basic " + b64encode(credentials).decode()},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            queue = json.load(answer)
        # A new queue has no counts yet; KEDA's JSON decoding reads 0.
        if metadata.get("excludeUnacknowledged") == "true":
            return queue.get("messages_ready", 0)
        return queue.get("messages", 0)
    import redis  # Installed for the Redis examples only.

    host, port = auth["address"].rsplit(":", 1)
    with redis.Redis(
        host=host, port=int(port), password=auth["password"], socket_timeout=5
    ) as client:
        key = metadata["listName"]
        length = {"hash": client.hlen, "list": client.llen, "none": client.llen}
        return length[client.type(key).decode()](key)


def desired_pods(scaled: dict, metrics: list[int]) -> int:
    """The worker pods KEDA and its HorizontalPodAutoscaler want for
    ``metrics``, the numbers of the ScaledObject's triggers, in order."""
    spec = scaled["spec"]
    # KEDA keeps no pod while every trigger reads 0 (its activation value).
    if not any(metrics):
        return spec["minReplicaCount"]
    wanted = max(
        math.ceil(metric / float(trigger["metadata"][TARGET[trigger["type"]]]))
        for trigger, metric in zip(spec["triggers"], metrics, strict=True)
    )
    return min(max(wanted, 1, spec["minReplicaCount"]), spec["maxReplicaCount"])
