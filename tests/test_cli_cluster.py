"""``kplay <tool> --cluster``: the command-line tools on a real cluster, run as a user runs them.

Every tool runs as a subprocess against ``kplay serve`` on free ports and against Tansu (a
Kafka-compatible broker that is not ours). Output must be what the same tool prints on the
playground's file: ``kplay topics --describe --cluster`` on ``kplay serve`` prints, line for line,
what ``--data`` prints for the file it serves. Profiles come from a ``clusters.toml`` the test
writes (``KPLAY_CLUSTERS`` names it).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

from app.serve.credentials import Credentials
from cli_harness import KPLAY, ROOT
from test_serve_support import ServedCluster

from backend_support import TANSU_NO_CREATE_PARTITIONS, free_port, served, tansu, unique  # noqa: F401

#: Tansu completes a group join after about half the session timeout: keep it short there.
FAST_GROUP = ["--consumer-property", "session.timeout.ms=6000", "--consumer-property", "heartbeat.interval.ms=500"]


def run(*args: str, cluster: Optional[str] = None, input: Optional[str] = None, profiles: Optional[Path] = None,
        env: Optional[dict[str, str]] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``kplay ARGS [--cluster CLUSTER]`` to completion, with no playground data file named."""
    environment = {k: v for k, v in os.environ.items() if k not in ("KPLAY_DATA", "KPLAY_CLUSTER", "KPLAY_CLUSTERS")}
    environment["PYTHONUNBUFFERED"] = "1"
    if profiles is not None:
        environment["KPLAY_CLUSTERS"] = str(profiles)
    environment.update(env or {})
    command = [*KPLAY, *args, *(["--cluster", cluster] if cluster is not None else [])]
    return subprocess.run(command, input=input if input is not None else "", capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=environment)


def one_line_failure(result: subprocess.CompletedProcess) -> str:
    """The single stderr line of a failed run (asserting there was exactly one and no traceback)."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(params=["served", "tansu"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    """Bootstrap servers of kplay serve, then of Tansu."""
    return request.getfixturevalue(request.param).bootstrap


# --- the tools on both clusters -------------------------------------------------------------

def test_topics_create_list_and_describe_on_a_real_cluster(bootstrap: str) -> None:
    topic = unique("cli")
    created = run("topics", "--create", "--topic", topic, "--partitions", "2", "--replication-factor", "1",
                  cluster=bootstrap)
    assert (created.returncode, created.stdout, created.stderr) == (0, f"Created topic {topic}.\n", "")
    assert topic in run("topics", "--list", cluster=bootstrap).stdout.splitlines()
    described = run("topics", "--describe", "--topic", topic, cluster=bootstrap)
    header, *partitions = described.stdout.splitlines()
    assert header.startswith(f"Topic: {topic}\tTopicId: ") and "\tPartitionCount: 2\tReplicationFactor: 1\t" in header
    assert [line.split("\t")[2] for line in partitions] == ["Partition: 0", "Partition: 1"]
    again = run("topics", "--create", "--topic", topic, cluster=bootstrap)
    assert again.returncode == 1
    assert again.stdout.startswith("Error while executing topic command : ")


def test_console_producer_and_consumer_round_trip_with_keys_and_a_group(bootstrap: str) -> None:
    topic, group = unique("console"), unique("console-group")
    assert run("topics", "--create", "--topic", topic, "--partitions", "1", cluster=bootstrap).returncode == 0
    produced = run("console-producer", "--topic", topic, "--property", "parse.key=true", "--property",
                   "key.separator=:", cluster=bootstrap, input="k1:one\nk2:two\nk3:three\n")
    assert (produced.returncode, produced.stderr) == (0, "")
    consumed = run("console-consumer", "--topic", topic, "--from-beginning", "--group", group, "--max-messages", "3",
                   "--property", "print.key=true", *FAST_GROUP, cluster=bootstrap)
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.splitlines() == ["k1\tone", "k2\ttwo", "k3\tthree"]
    assert "Processed a total of 3 messages" in consumed.stderr
    from_offset = run("console-consumer", "--topic", topic, "--partition", "0", "--offset", "1", "--max-messages", "2",
                      cluster=bootstrap)
    assert from_offset.stdout.splitlines() == ["two", "three"]
    listed = run("consumer-groups", "--list", cluster=bootstrap)
    assert group in listed.stdout.splitlines()


def test_an_unknown_topic_fails_in_one_line(bootstrap: str) -> None:
    missing = unique("missing")
    produced = run("console-producer", "--topic", missing, cluster=bootstrap, input="x\n")
    assert one_line_failure(produced) == f"Topic '{missing}' does not exist"  # as on the playground's file
    consumed = run("console-consumer", "--topic", missing, "--max-messages", "1", cluster=bootstrap)
    assert one_line_failure(consumed) == f"Topic '{missing}' does not exist"


def test_topics_alter_adds_partitions(bootstrap: str, request: pytest.FixtureRequest) -> None:
    if "tansu" in request.node.callspec.id:
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_CREATE_PARTITIONS, strict=True))
    topic = unique("altered")
    run("topics", "--create", "--topic", topic, "--partitions", "1", cluster=bootstrap)
    altered = run("topics", "--alter", "--topic", topic, "--partitions", "3", cluster=bootstrap)
    assert (altered.returncode, altered.stderr) == (0, "")
    assert "PartitionCount: 3" in run("topics", "--describe", "--topic", topic, cluster=bootstrap).stdout


# --- kplay serve: the same output as the playground's own file --------------------------------

def test_describe_on_kplay_serve_prints_what_the_data_file_prints(served: ServedCluster) -> None:  # noqa: F811
    topic = unique("same")
    run("topics", "--create", "--topic", topic, "--partitions", "3", "--replication-factor", "2",
        "--config", "retention.ms=60000", cluster=served.bootstrap)
    remote = run("topics", "--describe", "--topic", topic, cluster=served.bootstrap)
    local = subprocess.run([*KPLAY, "topics", "--describe", "--topic", topic, "--data", str(served.data_path)],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert remote.returncode == local.returncode == 0
    assert remote.stdout == local.stdout
    assert "Configs: retention.ms=60000" in remote.stdout


def test_configs_describe_and_alter_on_kplay_serve(served: ServedCluster) -> None:  # noqa: F811
    topic = unique("configs")
    run("topics", "--create", "--topic", topic, cluster=served.bootstrap)
    altered = run("configs", "--entity-type", "topics", "--entity-name", topic, "--alter", "--add-config",
                  "retention.ms=120000", cluster=served.bootstrap)
    assert altered.stdout == f"Completed updating config for topic {topic}.\n"
    described = run("configs", "--entity-type", "topics", "--entity-name", topic, "--describe",
                    cluster=served.bootstrap)
    assert described.stdout.splitlines() == [
        f"Dynamic configs for topic {topic} are:",
        "  retention.ms=120000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=120000, "
        "DEFAULT_CONFIG:log.retention.hours=168}"]


def test_consumer_groups_describe_reset_and_delete_on_kplay_serve(served: ServedCluster) -> None:  # noqa: F811
    topic, group = unique("lagging"), unique("lagging-group")
    cluster = served.bootstrap
    run("topics", "--create", "--topic", topic, cluster=cluster)
    run("console-producer", "--topic", topic, cluster=cluster, input="a\nb\nc\n")
    run("console-consumer", "--topic", topic, "--group", group, "--from-beginning", "--max-messages", "3",
        cluster=cluster)
    described = run("consumer-groups", "--describe", "--group", group, cluster=cluster)
    row = described.stdout.splitlines()[2].split()
    assert row[:6] == [group, topic, "0", "3", "3", "0"]
    dry = run("consumer-groups", "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--dry-run",
              cluster=cluster)
    assert dry.stdout.split()[-4:] == [group, topic, "0", "0"]
    refused = run("consumer-groups", "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest",
                  "--execute", cluster=cluster, input="not-the-group\n")
    assert "Not confirmed" in refused.stderr and refused.returncode == 1
    assert run("consumer-groups", "--describe", "--group", group, cluster=cluster).stdout.splitlines()[2].split()[3] == "3"
    typed = run("consumer-groups", "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest",
                "--execute", cluster=cluster, input=f"{group}\n")
    assert typed.returncode == 0, typed.stderr
    assert f"Type '{group}' to confirm" in typed.stderr
    assert run("consumer-groups", "--describe", "--group", group, cluster=cluster).stdout.splitlines()[2].split()[3] == "0"
    deleted = run("consumer-groups", "--delete", "--group", group, "--yes", cluster=cluster)
    assert deleted.stdout == f"Deletion of requested consumer groups ('{group}') was successful.\n"


def test_deleting_a_topic_on_a_real_cluster_asks_for_its_name(served: ServedCluster) -> None:  # noqa: F811
    topic = unique("doomed")
    run("topics", "--create", "--topic", topic, cluster=served.bootstrap)
    unconfirmed = run("topics", "--delete", "--topic", topic, cluster=served.bootstrap)  # stdin: nothing typed
    assert unconfirmed.returncode == 1 and "Not confirmed" in unconfirmed.stdout + unconfirmed.stderr
    assert topic in run("topics", "--list", cluster=served.bootstrap).stdout.splitlines()
    confirmed = run("topics", "--delete", "--topic", topic, cluster=served.bootstrap, input=f"{topic}\n")
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr

    def gone() -> bool:
        return topic not in run("topics", "--list", cluster=served.bootstrap).stdout.splitlines()

    deadline = time.monotonic() + 20
    while not gone():
        assert time.monotonic() < deadline, f"{topic} still listed"


# --- profiles ---------------------------------------------------------------------------------

@pytest.fixture
def profiles(tmp_path: Path, served: ServedCluster) -> Path:  # noqa: F811
    path = tmp_path / "clusters.toml"
    path.write_text(f'''
[local]
"bootstrap.servers" = "{served.bootstrap}"

[dotted]
bootstrap.servers = "{served.bootstrap}"
client.id = "kplay-profile-test"

[frozen]
"bootstrap.servers" = "{served.bootstrap}"
read_only = true

[typo]
"bootstrap.servers" = "{served.bootstrap}"
"bootstrap.servrs" = "oops"
''')
    return path


def test_a_profile_name_and_kplay_cluster_pick_the_cluster(profiles: Path) -> None:
    topic = unique("profiled")
    assert run("topics", "--create", "--topic", topic, cluster="local", profiles=profiles).returncode == 0
    assert topic in run("topics", "--list", cluster="dotted", profiles=profiles).stdout.splitlines()
    from_env = run("topics", "--list", profiles=profiles, env={"KPLAY_CLUSTER": "local"})
    assert topic in from_env.stdout.splitlines()


def test_a_read_only_profile_refuses_writes_in_one_line(profiles: Path) -> None:
    topic = unique("frozen")
    refused = run("topics", "--create", "--topic", topic, cluster="frozen", profiles=profiles)
    assert one_line_failure(refused).startswith("kplay: Cluster 'frozen' is read-only")
    existing = unique("existing")
    assert run("topics", "--create", "--topic", existing, cluster="local", profiles=profiles).returncode == 0
    produced = run("console-producer", "--topic", existing, cluster="frozen", profiles=profiles, input="x\n")
    assert one_line_failure(produced) == ("kplay: Cluster 'frozen' is read-only (its profile says read_only = true): "
                                          "refusing to produce records")
    deleted = run("topics", "--delete", "--topic", existing, "--yes", cluster="frozen", profiles=profiles)
    assert "refusing to delete topic" in one_line_failure(deleted)
    assert existing in run("topics", "--list", cluster="frozen", profiles=profiles).stdout.splitlines()


@pytest.mark.parametrize("spec, expected", [
    ("nowhere", "no cluster profile 'nowhere' in"),
    ("typo", "No such configuration property: \"bootstrap.servrs\""),
    ("host:notaport", "'host:notaport' is not HOST:PORT"),
])
def test_a_bad_cluster_choice_is_one_line(profiles: Path, spec: str, expected: str) -> None:
    line = one_line_failure(run("topics", "--list", cluster=spec, profiles=profiles))
    assert expected in line, line


def test_a_profiles_file_toml_cannot_read_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "clusters.toml"
    broken.write_text("[prod\nbootstrap.servers = 1\n")
    line = one_line_failure(run("topics", "--list", cluster="prod", profiles=broken))
    assert line.startswith(f"kplay: {broken}: not valid TOML")


def test_an_unreachable_cluster_is_one_line_in_bounded_time() -> None:
    started = time.monotonic()
    line = one_line_failure(run("topics", "--list", cluster=f"127.0.0.1:{free_port()}"))
    assert "Connection refused" in line
    assert time.monotonic() - started < 20


def test_tls_to_a_plaintext_listener_is_one_line_naming_the_handshake(served: ServedCluster,  # noqa: F811
                                                                        tmp_path: Path) -> None:
    path = tmp_path / "clusters.toml"
    path.write_text(f'[tls]\n"bootstrap.servers" = "{served.bootstrap}"\n"security.protocol" = "SSL"\n')
    line = one_line_failure(run("topics", "--list", cluster="tls", profiles=path))
    # librdkafka words it by when the plaintext listener's answer lands (both seen in full runs).
    assert "SSL handshake failed" in line or "SSL connection closed by peer" in line, line
    missing_ca = tmp_path / "clusters-ca.toml"
    missing_ca.write_text(f'[tls]\n"bootstrap.servers" = "{served.bootstrap}"\n"security.protocol" = "SSL"\n'
                          f'"ssl.ca.location" = "{tmp_path}/no-such-ca.pem"\n')
    line = one_line_failure(run("topics", "--list", cluster="tls", profiles=missing_ca))
    assert "ssl.ca.location" in line and "no-such-ca.pem" in line, line


def test_data_and_cluster_together_are_refused(tmp_path: Path) -> None:
    result = run("topics", "--list", "--data", str(tmp_path / "x.db"), cluster="127.0.0.1:9092")
    assert "--data and --cluster" in one_line_failure(result)


# --- SASL against kplay serve --users -----------------------------------------------------------

@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCluster]:
    cluster = ServedCluster(Path(tmp_path_factory.mktemp("cli-sasl")) / "cluster.db",
                            credentials=Credentials({"alice": "alice-secret"})).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_a_sasl_profile_authenticates_and_a_wrong_password_is_one_line(
        secured: ServedCluster, tmp_path: Path, mechanism: str) -> None:
    path = tmp_path / "clusters.toml"
    common = f'"bootstrap.servers" = "{secured.bootstrap}"\n"security.protocol" = "SASL_PLAINTEXT"\n' \
             f'"sasl.mechanism" = "{mechanism}"\n"sasl.username" = "alice"\n'
    path.write_text(f'[good]\n{common}"sasl.password" = "alice-secret"\n\n[bad]\n{common}"sasl.password" = "nope"\n')
    topic = unique("sasl")
    assert run("topics", "--create", "--topic", topic, cluster="good", profiles=path).returncode == 0
    assert topic in run("topics", "--list", cluster="good", profiles=path).stdout.splitlines()
    started = time.monotonic()
    line = one_line_failure(run("topics", "--list", cluster="bad", profiles=path))
    assert "Authentication failed" in line, line
    assert time.monotonic() - started < 20
