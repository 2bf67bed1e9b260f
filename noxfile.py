"""Every check of the guide. `nox` is the contributor loop, its sessions run
as many at once as the machine has cores (the docs build before lint and
site, which read it):

- docs: build the site with warnings as errors.
- smoke(broker=...): run every example once, as its page shows it, against
  a real broker and worker.
- lint: check the docs' sources against examples/, and lint every example.
- site: drive the built site in headless Chromium.
Not run by default (CI runs them after `nox`): tests (every behaviour of
every example, on each broker), pythons (every example once on each
supported Python installed here), audit (phones, search, axe-core and
Lighthouse on every page), measure, reliability (stops and restarts the
brokers), local_brokers (the commands without Docker, on brokers of their
own). And by hand: topic (one topic's tests), bench, serve (live-reloading
preview), linkcheck, inventories and grafana_schema (need the internet).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import nox

# tests/support and docs/_ext hold what the sessions share with the tests.
sys.path[:0] = [
    str(Path(__file__).parent / "tests"),
    str(Path(__file__).parent / "docs" / "_ext"),
]
from markers import marked_lines
from support.brokers import BROKERS, Broker
from support.figures import write_figure
from support.pythons import SUPPORTED_PYTHONS, find_python
from support.topics import topic_modules

nox.needs_version = ">=2026.10.20"  # dependency_groups(), reuse_venv="yes", --parallel
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
# The loop's sessions run as many at once as there are cores: each waits on
# workers and brokers for part of its time, which another one fills. The
# sessions that measure, stop brokers or start servers of their own never
# run beside another (they do not allow it).
nox.options.parallel = "auto"

# Keep compiled bytecode, in .nox/pycache, even where PYTHONDONTWRITEBYTECODE
# is set (CI images often set it). Without it, every process a test starts
# recompiles Flask, Dramatiq and the rest from source (0.4 s of CPU each), and
# every pytest process rewrites every test module's asserts again.
os.environ["PYTHONDONTWRITEBYTECODE"] = ""
os.environ["PYTHONPYCACHEPREFIX"] = str(Path(__file__).parent / ".nox" / "pycache")

PYPROJECT = nox.project.load_toml("pyproject.toml")
# Test processes at once. Most of a test's time is spent waiting on a worker
# or a broker, so this is more than the two cores CI has.
PARALLEL_TESTS = 6
# pytest-xdist's options for one test at a time per test process (see
# run_in_parallel()).
ONE_TEST_AT_A_TIME = ("--dist", "load", "--maxschedchunk", "1")
# Per broker for one topic, both brokers at once: each test process costs
# about 2 s of CPU to start, and several topics keep both cores busy. With 3
# (not 2 or 4), the slowest topics' tests took the least time on 2 cores.
TOPIC_PARALLEL_TESTS = 3
# Fewer for the smoke tests: each test process first imports every test
# module (1.5 s of CPU), which costs the loop more than it gains for 46 tests.
PARALLEL_SMOKE = 4
# The sessions that measure write the figures the pages show into docs/_data
# (tests/support/figures.py); commit what they write.
RECORD_FIGURES = {"GUIDE_RECORD_FIGURES": "1"}
EXAMPLES = Path("examples")
# The toolchain's versions, locked: nox installs its groups from here, so a
# new Sphinx or pytest cannot break a run overnight. `nox -s lock` rewrites
# it, and Dependabot proposes updates. The examples are never locked.
LOCK = Path("requirements/toolchain.txt")
LOCKED_GROUPS = ("nox", "lint", "bench")
# uv, from nox's own environment (the nox group installs it).
UV = (sys.executable, "-m", "uv")
# The oldest Python the project supports: the lock resolves for it and up.
OLDEST_PYTHON = SUPPORTED_PYTHONS[0]
INVENTORIES = {
    "python": "https://docs.python.org/3/objects.inv",
    "flask": "https://flask.palletsprojects.com/en/stable/objects.inv",
    "dramatiq": "https://dramatiq.io/objects.inv",
}


@nox.session(allow_parallel=True)
def docs(session: nox.Session) -> None:
    """Build the HTML site into docs/_build/html; any warning fails the build."""
    install(session, ["docs"])
    try:
        session.run(
            "sphinx-build", "-W", "--keep-going", "-n", "-q", "-b", "html",
            "docs", "docs/_build/html", *session.posargs,
        )  # fmt: skip
    except nox.command.CommandFailed:
        # Sphinx reads again only the pages that changed: without this, the
        # next build would pass with the warnings of an unchanged page.
        # (tests/support/site_build.py does the same after its builds.)
        Path("docs/_build/html/.doctrees/environment.pickle").unlink(missing_ok=True)
        raise
    session.log("Open docs/_build/html/index.html in your browser.")


@nox.session(allow_parallel=True)
@nox.parametrize("broker", list(BROKERS))
def smoke(session: nox.Session, broker: str) -> None:
    """Run each example of one broker once, as its page shows it, for real.

    The documented commands start a real worker and web server against the
    broker, and the page's request goes through them. Every behaviour of
    every example is `nox -s tests`, which CI runs: on two cores it takes
    twice as long as this whole loop is allowed.
    """
    prepare_broker_session(session, broker)
    run_in_parallel(
        session, f"{broker} and smoke", *smoke_modules(), processes=PARALLEL_SMOKE
    )


@nox.session(default=False)
@nox.parametrize("broker", list(BROKERS))
def tests(session: nox.Session, broker: str) -> None:
    """Run every test of the examples of one broker against that broker, for real.

    Each broker gets a virtualenv of its own, as a reader's project has: a
    Redis project has no pika, and Dramatiq behaves differently without it.
    Tests run several at a time, each test process in a RabbitMQ vhost or
    Redis database of its own (tests/conftest.py).
    """
    prepare_broker_session(session, broker)
    run_in_parallel(session, f"{broker} and not ({NOT_IN_TESTS})")


@nox.session(default=False)
@nox.parametrize("broker", list(BROKERS))
def reliability(session: nox.Session, broker: str) -> None:
    """Crash workers, restart the broker under traffic, load it: prove nothing is lost.

    Not part of plain `nox`: it stops and restarts the broker, and takes
    minutes. .ci/run runs it after `nox`.
    """
    prepare_broker_session(session, broker)
    session.run(
        "pytest", "-m", f"{broker} and reliability", "-rA", *session.posargs,
        env=RECORD_FIGURES,
    )  # fmt: skip


@nox.session(default=False)
@nox.parametrize("broker", list(BROKERS))
def measure(session: nox.Session, broker: str) -> None:
    """Measure what the pages state, on one broker; then run the benchmark.

    The tests marked ``measure`` time idle pickups, polls, hangs and crash
    redeliveries, checking each against its bound; they wait on purpose, so
    plain `nox` leaves them out. Those and the tests marked ``figure`` write
    the figures the pages show into docs/_data. .ci/run runs it after `nox`.
    """
    prepare_broker_session(session, broker)
    # Two at a time: a timing taken on a machine busy with six tests at once
    # measures the machine.
    session.run(
        "pytest", "-m", f"{broker} and (measure or figure) and not cluster",
        "-n", "2", "-rA",
        *session.posargs,
        env=RECORD_FIGURES,
    )  # fmt: skip
    session.notify("bench")


@nox.session(default=False)
@nox.parametrize("broker", list(BROKERS))
def regen(session: nox.Session, broker: str) -> None:
    """Rewrite the outputs the pages show from real runs, as pytest's regendoc.

    Every test that checks a shown output file (tests/support/output.py)
    writes it from its own run instead; review the diff and commit it.
    """
    prepare_broker_session(session, broker)
    session.run(
        "pytest", "-m", f"{broker} and not (reliability or local_brokers or cluster)",
        "-n", str(PARALLEL_TESTS), *session.posargs, env={"GUIDE_REGENERATE": "1"},
    )  # fmt: skip


@nox.session(default=False)
def local_brokers(session: nox.Session) -> None:
    """Run the pages' broker commands for readers without Docker, as written.

    Each starts RabbitMQ or Redis from Debian's packages in a sandbox of its
    own (network, mount and PID namespaces; needs root), which must then
    answer on 127.0.0.1 only and run an example. Not part of plain `nox`: it
    starts brokers of its own. .ci/run runs it after the reliability suite.
    """
    install(
        session,
        ["test"],
        [EXAMPLES / topic / broker for topic in LOCAL_TOPICS for broker in BROKERS],
    )
    session.run("pytest", "-m", "local_brokers", "-rA", *session.posargs)


@nox.session(default=False)
@nox.parametrize("broker", list(BROKERS))
def cluster(session: nox.Session, broker: str) -> None:
    """Run the Scale out pages' examples on hosts and brokers of their own.

    Each host is a sandbox with an address on a private network (root,
    unshare, ip): the broker, the database, the web app, the worker hosts.
    The tests measure what the pages show (throughput on one and two worker
    hosts, a worker host's power cut) and write it to docs/_data. The
    machine's shared brokers and database are never touched. Not part of
    plain `nox`: .ci/run runs it after local_brokers.
    """
    install(session, ["test"], [EXAMPLES / topic / broker for topic in SCALE_OUT])
    # The Scale out pages' test modules only: collecting every module would
    # take longer than starting a host.
    modules = sorted(
        str(path)
        for topic in SCALE_OUT
        for path in Path("tests").glob(f"test_{topic}_*.py")
    )
    session.run(
        "pytest", "-m", f"{broker} and cluster", "-rA", *modules, *session.posargs,
        env=RECORD_FIGURES,
    )  # fmt: skip


@nox.session(default=False, venv_backend="none")
def topic(session: nox.Session) -> None:
    """Check one example topic on both brokers, and the docs: `nox -s topic -- email`.

    For the writer editing one example: its tests on both brokers, in the
    virtualenvs of `nox -s tests`, with the cross-example tests of its
    folders; and meanwhile the docs build and the topic's lint.
    """
    topics = sorted(path.name for path in EXAMPLES.iterdir() if path.is_dir())
    if len(session.posargs) != 1 or session.posargs[0] not in topics:
        session.error(f"Name one topic: nox -s topic -- <{'|'.join(topics)}>")
    [name] = session.posargs
    # Only the modules that can hold its tests: collecting all of them, in
    # each test process, would take longer than running the topic's tests.
    # --topic (tests/conftest.py) keeps the tests of the topic's folders.
    modules = [str(path.relative_to(Path.cwd())) for path in topic_modules(name)]
    # All at once: the tests spend much of their time waiting on workers and
    # brokers, and nox runs the sessions it is told of one by one. The docs
    # and lint run as `nox -s lint` (which builds the docs first), told the
    # topic by GUIDE_TOPIC.
    runs = {}
    for broker, details in BROKERS.items():
        ensure_running(session, details)
        venv = Path(".nox", f"tests-broker-{broker}").resolve()
        if not (venv / "bin" / "python").is_file():  # As nox -s tests makes it.
            session.run(*UV, "venv", "--quiet", "--python", sys.executable, str(venv))
        install(session, ["test"], sorted(EXAMPLES.glob(f"*/{broker}")), venv=venv)
        env = {
            **os.environ,
            "PATH": os.pathsep.join([str(venv / "bin"), os.environ["PATH"]]),
            "VIRTUAL_ENV": str(venv),
            "GUIDE_FIRST_TEST_PROCESS": first_test_process(broker),
        }
        command = [
            str(venv / "bin" / "pytest"), "-m", f"{broker} and not ({NOT_IN_TESTS})",
            "-n", str(TOPIC_PARALLEL_TESTS), *ONE_TEST_AT_A_TIME,
            *modules, "--topic", name,
        ]  # fmt: skip
        session.log(f"{broker}: {shlex.join(command)}")
        runs[broker] = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    runs["docs and lint"] = subprocess.Popen(
        [sys.executable, "-m", "nox", "--sessions", "lint"],
        env={**os.environ, "GUIDE_TOPIC": name},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    failed = []
    for what, run in runs.items():
        output, _ = run.communicate()
        print(output.decode(), flush=True)
        if run.returncode:
            failed.append(what)
    if failed:
        session.error(f"{name}: failed: {', '.join(failed)}")


@nox.session(allow_parallel=True, requires=["docs"])
def lint(session: nox.Session) -> None:
    """Docs drift checks, and ruff on every example and on the project's own code."""
    install(session, ["lint"], EVERY_EXAMPLE)
    # `nox -s topic` runs this session for one topic, named in GUIDE_TOPIC:
    # then only that topic's tests and compose files.
    topic = os.environ.get("GUIDE_TOPIC")
    # One test process: it builds and parses the site once for every module
    # that reads it. Two processes did that twice, and took 3.5 s more CPU
    # (the loop is short of CPU, not of waiting).
    session.run(
        "pytest", "-m",
        "not rabbitmq and not redis and not browser and not local_brokers",
        *(["--topic", topic] if topic else []), *session.posargs,
    )  # fmt: skip
    # Every example a reader copies, and the project's own code, in one run
    # each (pyproject.toml holds the settings).
    sources = ("noxfile.py", "tests", "docs", "benchmark", "examples")
    session.run("ruff", "check", *sources)
    session.run("ruff", "format", "--check", *sources)
    # The project's own YAML files against their schemas (shipped with
    # check-jsonschema: no network), and the workflow through zizmor.
    checks = [
        ("github-workflows", sorted(Path(".github/workflows").glob("*.yml"))),
        ("dependabot", [Path(".github/dependabot.yml")]),
        ("readthedocs", [Path(".readthedocs.yaml")]),
        (
            "compose-spec",
            [Path("compose.yaml"), *sorted(EXAMPLES.glob("*/*/compose.yaml"))],
        ),
    ]
    if topic:
        checks = [("compose-spec", sorted(EXAMPLES.glob(f"{topic}/*/compose.yaml")))]
    for schema, files in checks:
        if files:
            session.run(
                "check-jsonschema", "--builtin-schema", f"vendor.{schema}",
                *map(str, files),
            )  # fmt: skip
    if not topic:
        session.run("zizmor", "--offline", "--quiet", ".github/workflows")


@nox.session(allow_parallel=True, requires=["docs"])
def site(session: nox.Session) -> None:
    """Build the site, serve it on 127.0.0.1 and test it in headless Chromium."""
    install(session, ["test"], EVERY_EXAMPLE)
    session.run("pytest", "-m", "browser and not audit", *SITE_TESTS, *session.posargs)


@nox.session(default=False)
def audit(session: nox.Session) -> None:
    """Check every page of the built site on a phone, for search, with axe-core and Lighthouse.

    Not part of plain `nox`: it takes four minutes. .ci/run runs it after.
    """
    install(session, ["test"], EVERY_EXAMPLE)
    install_lighthouse(session)
    session.run("pytest", "-m", "audit", *SITE_TESTS, *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmark examples/performance on both brokers; rewrite docs/_static/performance/.

    Not a test, and not run by default: run it on a quiet machine, and commit
    the files it writes.
    """
    for broker in BROKERS.values():
        ensure_running(session, broker)
    install(session, ["bench"], sorted(EXAMPLES.glob("performance/*")))
    session.run("python", "-m", "benchmark", *session.posargs)


@nox.session(default=False)
def serve(session: nox.Session) -> None:
    """Preview the site on http://127.0.0.1:8000, rebuilt when docs/ or examples/ change."""
    session.install(
        *nox.project.dependency_groups(PYPROJECT, "docs"), "sphinx-autobuild"
    )
    session.run(
        "sphinx-autobuild", "--host", "127.0.0.1", "--port", "8000",
        "--watch", "examples", "docs", "docs/_build/serve", *session.posargs,
    )  # fmt: skip


@nox.session(default=False)
def linkcheck(session: nox.Session) -> None:
    """Check the external links of the site (needs the internet)."""
    install(session, ["docs"])
    session.run(
        "sphinx-build", "-q", "-b", "linkcheck", "docs", "docs/_build/linkcheck"
    )


@nox.session(default=False, venv_backend="none")
def grafana_schema(session: nox.Session) -> None:
    """Remake the Grafana dashboard schema the tests check dashboards against.

    From Grafana's own TypeScript types (@grafana/schema, pinned in
    tests/support/grafana/package-lock.json). Commit the file it writes:
    the tests never need npm.
    """
    folder = "tests/support/grafana"
    session.run(
        "npm", "ci", "--no-audit", "--no-fund", "--prefix", folder, external=True
    )
    with session.chdir(folder):
        session.run(
            "npx", "ts-json-schema-generator", "--path", "dashboard-types.ts",
            "--tsconfig", "tsconfig.json", "--type", "*", "--no-type-check",
            "--out", "dashboard.schema.json", external=True,
        )  # fmt: skip


@nox.session(default=False, venv_backend="none")
def inventories(session: nox.Session) -> None:
    """Download the intersphinx inventories docs/conf.py reads (needs the internet).

    Commit the files it writes: the docs build never touches the network.
    """
    from urllib.request import urlopen

    folder = Path("docs/_inventories")
    folder.mkdir(exist_ok=True)
    for name, url in INVENTORIES.items():
        with urlopen(url, timeout=30) as response:
            (folder / f"{name}.inv").write_bytes(response.read())
        session.log(f"{folder / name}.inv <- {url}")


@nox.session(default=False, venv_backend="none")
def lock(session: nox.Session) -> None:
    """Lock the toolchain (every dependency group) into requirements/toolchain.txt.

    One file for every supported Python and platform. Commit it; Dependabot
    proposes the same updates weekly. Needs the internet.
    """
    groups = [arg for group in LOCKED_GROUPS for arg in ("--group", group)]
    session.run(
        *UV, "pip", "compile", *groups, "--universal",
        "--python-version", OLDEST_PYTHON, "--upgrade", "--quiet",
        "--output-file", str(LOCK),
    )  # fmt: skip


@nox.session(default=False)
@nox.parametrize("broker", list(BROKERS))
def latest(session: nox.Session, broker: str) -> None:
    """Run every example once on the newest releases, pre-releases included.

    What the weekly CI job runs: the toolchain unlocked, and each example's
    requirements.txt resolved afresh, so an upstream break fails here, with
    the failing example in the test's name. Needs the internet.
    """
    ensure_running(session, BROKERS[broker])
    newest = ["--upgrade"]
    newest += ["--prerelease=allow"] if session.venv_backend == "uv" else ["--pre"]
    session.install(*newest, *nox.project.dependency_groups(PYPROJECT, "test"))
    for folder in sorted(EXAMPLES.glob(f"*/{broker}")):
        run_install_section(session, folder, *newest)
        # A release an example pins (e.g. flask-dramatiq==0.8.0), and its
        # newer ones: a fix or a break upstream changes what its page says.
        for line in (folder / "requirements.txt").read_text().splitlines():
            if "==" in line:
                session.install(*newest, line.partition("==")[0])
    # Say what ran: the versions an upstream break came with.
    session.run("python", "-m", "support.versions", broker, env={"PYTHONPATH": "tests"})
    run_in_parallel(
        session, f"{broker} and smoke", *smoke_modules(), processes=PARALLEL_SMOKE
    )


@nox.session(default=False, venv_backend="none")
@nox.parametrize("version", SUPPORTED_PYTHONS)
@nox.parametrize("broker", list(BROKERS))
def pythons(session: nox.Session, broker: str, version: str) -> None:
    """Run every example once on each supported Python installed here.

    The other sessions run on the Python that runs nox. This one makes a
    virtualenv per Python, with uv, from the interpreter on PATH or pyenv's,
    installs the examples as their pages show, and runs the smoke tests in
    it. A Python that is not installed is skipped, with a line that says so.
    Records the exact version that passed, for the install page.
    """
    interpreter = find_python(version)
    if interpreter is None:
        session.skip(
            f"Python {version} is not installed (not on PATH, not in pyenv): "
            f"the examples did not run on it"
        )
    ensure_running(session, BROKERS[broker])
    key = version.replace(".", "_")
    venv = Path(".nox", f"pythons-{broker}-{key}").resolve()
    if not (venv / "bin" / "python").is_file():
        session.run(*UV, "venv", "--quiet", "--python", interpreter, str(venv))
    install(session, ["test"], sorted(EXAMPLES.glob(f"*/{broker}")), venv=venv)
    # The virtualenv's own programs first, as if activated: the tests run
    # `dramatiq`, `flask` and `gunicorn` from PATH.
    env = {
        "PATH": os.pathsep.join([str(venv / "bin"), os.environ["PATH"]]),
        "VIRTUAL_ENV": str(venv),
    }
    session.run(
        str(venv / "bin" / "pytest"), "-m", f"{broker} and smoke",
        "-n", str(PARALLEL_SMOKE), *ONE_TEST_AT_A_TIME,
        *smoke_modules(), *session.posargs, env=env, external=True,
    )  # fmt: skip
    if session.posargs:
        return  # Some of the tests, perhaps: not a release the page can list.
    exact = session.run(
        str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())",
        silent=True, external=True,
    )  # fmt: skip
    write_figure("install", f"pythons.{broker}.{key}", exact.strip())


# The browser tests' modules: collecting only these keeps the two sessions quick.
SITE_TESTS = sorted(str(path) for path in Path("tests").glob("test_site*.py"))
# The examples whose *-local commands tests/test_local_brokers.py runs.
LOCAL_TOPICS = (
    "quickstart",
    "email",
    "troubleshooting",
    "metrics",
    "results",
    "reliability",
)
# The Scale out pages' examples: nox -s cluster runs them on hosts.
SCALE_OUT = ("hosts", "ha", "autoscaling")
EVERY_EXAMPLE = sorted(path.parent for path in EXAMPLES.glob("*/*/commands.sh"))


# The tests that `nox -s tests` leaves to sessions of their own.
NOT_IN_TESTS = "reliability or local_brokers or measure or cluster"


def prepare_broker_session(session: nox.Session, broker: str) -> None:
    """Make sure ``broker`` answers, and install what its examples need.

    Each broker's sessions get a virtualenv of their own, with that broker's
    examples only, as a reader's project has.
    """
    ensure_running(session, BROKERS[broker])
    install(session, ["test"], sorted(EXAMPLES.glob(f"*/{broker}")))
    session.env["GUIDE_FIRST_TEST_PROCESS"] = first_test_process(broker)


def first_test_process(broker: str) -> str:
    """The number of the broker's first test process.

    Each broker's test processes get numbers of their own (the RabbitMQ
    ones 0-5, the Redis ones 6-11), so both brokers' tests can run at once:
    no shared port block, vhost or Redis database.
    """
    return str(list(BROKERS).index(broker) * PARALLEL_TESTS)


def smoke_modules() -> list[str]:
    """The test modules that hold smoke tests. Only these: every test process
    imports every module it is given, and the others would cost each a
    second of CPU."""
    return [
        str(path)
        for path in sorted(Path("tests").glob("test_*.py"))
        if "pytest.mark.smoke" in path.read_text()
    ]


def run_in_parallel(
    session: nox.Session,
    selection: str,
    *modules: str,
    processes: int = PARALLEL_TESTS,
) -> None:
    """Run the broker tests that the marker expression ``selection`` picks
    (in ``modules``, or in every module), in ``processes`` test processes.

    One test at a time goes to each test process, longest first
    (tests/conftest.py sorts them by their last run): no process is left
    with a queue of long ones.
    """
    session.run(
        "pytest", "-m", selection,
        "-n", str(processes), *ONE_TEST_AT_A_TIME,
        *modules, *session.posargs,
    )  # fmt: skip


def install(
    session: nox.Session,
    groups: list[str],
    examples: Sequence[Path] = (),
    venv: Path | None = None,
) -> None:
    """Install dependency ``groups`` and the ``examples``, unless already done.

    Into the session's virtualenv, or into ``venv``, one made by uv for
    another Python. A reused virtualenv keeps a stamp of what went into it:
    the same pyproject.toml and the same example install files skip every
    installer call (tens of them, a few seconds a session).
    """
    if venv is None:
        venv, installer = Path(session.virtualenv.location), session.install
    else:
        python = str(venv / "bin" / "python")

        def installer(*args: str) -> None:
            session.run(*UV, "pip", "install", "--quiet", "--python", python, *args)

    inputs = hashlib.sha256(Path("pyproject.toml").read_bytes())
    inputs.update(LOCK.read_bytes())
    inputs.update(repr(groups).encode())
    for folder in examples:
        for name in ("commands.sh", "requirements.txt"):
            if (folder / name).is_file():
                inputs.update(str(folder / name).encode())
                inputs.update((folder / name).read_bytes())
    stamp = venv / "installed.sha256"
    if stamp.is_file() and stamp.read_text() == inputs.hexdigest():
        session.log("Dependencies unchanged since the last install: skipped")
        return
    stamp.unlink(missing_ok=True)
    installer("-c", str(LOCK), *nox.project.dependency_groups(PYPROJECT, *groups))
    for folder in examples:
        run_install_section(session, folder, installer=installer)
    stamp.write_text(inputs.hexdigest())


def install_lighthouse(session: nox.Session) -> None:
    """Install Lighthouse from its package-lock.json, unless already done."""
    if not shutil.which("npm"):
        session.error("Lighthouse needs Node.js and npm: install them (nodejs.org)")
    folder = Path("tests/support/lighthouse")
    lock = folder / "package-lock.json"
    stamp = folder / "node_modules" / "installed.sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return
    session.run(
        "npm", "ci", "--no-audit", "--no-fund", "--prefix", str(folder), external=True
    )
    stamp.write_text(digest)


def run_install_section(
    session: nox.Session,
    folder: Path,
    *options: str,
    installer: Callable[..., object] | None = None,
) -> None:
    """Run the install commands the guide shows for ``folder``, in this venv.

    nox has already made and activated the virtualenv, so the venv lines are
    skipped; each ``python -m pip install ARGS`` becomes an install of ARGS
    with ``installer`` (by default nox's: uv or pip), run from the example
    folder.
    """
    installer = installer or session.install
    installs = example_installs(folder)
    if not installs:
        session.error(f"{folder}/commands.sh: its install section installs nothing")
    with session.chdir(folder):
        for args in installs:
            installer(*options, *args)


def example_installs(folder: Path) -> list[list[str]]:
    """The arguments of each ``python -m pip install`` the guide shows for ``folder``."""
    return [
        shlex.split(line)[4:]
        for line in marked_lines(folder / "commands.sh", "install")
        if line.startswith("python -m pip install ")
    ]


def ensure_running(session: nox.Session, broker: Broker) -> None:
    """Use the broker if it answers; otherwise start one, or say how to."""
    if broker.is_reachable():
        return
    if broker.address[1] != broker.default_port or broker.address[0] not in (
        "127.0.0.1",
        "localhost",
    ):
        # Only a broker on this machine's standard port is ours to start.
        session.error(broker.unreachable_message())
    if docker_works():
        session.log(f"Starting {broker.label} with docker compose")
        session.run(
            "docker", "compose", "up", "--detach", "--wait", broker.name, external=True
        )
    elif broker.name == "rabbitmq" and shutil.which("rabbitmq-server"):
        session.log("Starting the local rabbitmq-server")
        session.run("rabbitmq-server", "-detached", external=True)
        session.run("rabbitmqctl", "await_startup", external=True)
    elif broker.name == "redis" and shutil.which("redis-server"):
        session.log("Starting the local redis-server")
        session.run(
            "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1",
            "--port", str(broker.address[1]), "--save", "", "--appendonly", "no",
            external=True,
        )  # fmt: skip
    else:
        session.error(broker.unreachable_message())
    deadline = time.monotonic() + 30
    while not broker.is_reachable():
        if time.monotonic() > deadline:
            session.error(broker.unreachable_message())
        time.sleep(0.2)


def docker_works() -> bool:
    """True when a Docker engine answers, not merely when the client exists."""
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(
        ["docker", "info"], capture_output=True, timeout=20, check=False
    )
    return probe.returncode == 0
