"""``kplay brokers``, ``metadata-quorum`` and ``transactions`` with ``--cluster`` (issue 16), as subprocesses.

``brokers --list`` shows what a client sees (Metadata: live brokers, the controller id); what a Kafka
client cannot do (stop a broker, DescribeQuorum, ListTransactions in confluent-kafka) is one line.
"""

from __future__ import annotations

import subprocess

import pytest

from cli_harness import KPLAY, ROOT
from test_cli_cluster import one_line_failure, run
from test_serve_support import ServedCluster, wait_for

from backend_support import served, tansu, unique  # noqa: F401


def test_brokers_list_on_kplay_serve_shows_the_data_files_brokers(served: ServedCluster) -> None:  # noqa: F811
    remote = run("brokers", "--list", cluster=served.bootstrap)
    local = subprocess.run([*KPLAY, "brokers", "--list", "--data", str(served.data_path)],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert remote.returncode == local.returncode == 0, remote.stderr
    # The broker rows are the same; only the roles (KRaft voters are not in a client's Metadata)
    # and the quorum line differ.
    remote_rows = [line.split()[:4] for line in remote.stdout.splitlines()[1:] if line[:1].isdigit()]
    local_rows = [line.split()[:4] for line in local.stdout.splitlines()[1:] if line[:1].isdigit()]
    assert remote_rows == local_rows and len(remote_rows) >= 1
    assert sum(row[2] == "yes" for row in remote_rows) == 1
    assert "KRaft quorum: not visible to a client" in remote.stdout


def test_brokers_list_on_tansu(tansu: ServedCluster) -> None:  # noqa: F811
    result = run("brokers", "--list", cluster=tansu.bootstrap)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert rows and all(row[1] == "running" for row in rows)


@pytest.mark.parametrize("args", [["--stop", "1"], ["--start", "1"], ["--replication-delay-ms", "10"]])
def test_broker_control_on_a_real_cluster_is_one_line(served: ServedCluster, args: list[str]) -> None:  # noqa: F811
    line = one_line_failure(run("brokers", *args, cluster=served.bootstrap))
    assert "not kplay's to stop or start" in line


@pytest.mark.parametrize("args, tool", [
    (["metadata-quorum", "describe", "--status"], "metadata-quorum"),
    (["transactions", "list"], "transactions"),
    (["transactions", "describe", "--transactional-id", "t"], "transactions"),
])
def test_tools_a_client_cannot_run_say_so_in_one_line(served: ServedCluster, args: list[str],  # noqa: F811
                                                       tool: str) -> None:
    line = one_line_failure(run(*args, cluster=served.bootstrap))
    assert f"kplay {tool} is not available on a real cluster: confluent-kafka's AdminClient has no" in line


# --- configs --entity-type brokers ------------------------------------------------------------

def test_broker_configs_describe_on_kplay_serve_prints_what_the_data_file_prints(
        served: ServedCluster) -> None:  # noqa: F811
    remote = run("configs", "--describe", "--entity-type", "brokers", cluster=served.bootstrap)
    local = subprocess.run([*KPLAY, "configs", "--describe", "--entity-type", "brokers", "--data",
                            str(served.data_path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert remote.returncode == local.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    assert remote.stdout.splitlines()[0] == "Dynamic configs for broker 0 are:"
    assert remote.stdout.splitlines()[-1] == "Default configs for brokers in the cluster are:"


def test_broker_configs_describe_all_lists_the_brokers_configs(served: ServedCluster) -> None:  # noqa: F811
    result = run("configs", "--describe", "--all", "--broker", "0", cluster=served.bootstrap)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "All configs for broker 0 are:"
    names = [line.split("=", 1)[0].strip() for line in lines[1:]]
    assert "auto.create.topics.enable" in names and names == sorted(names)


def test_an_unknown_broker_is_refused(served: ServedCluster) -> None:  # noqa: F811
    result = run("configs", "--describe", "--broker", "99", cluster=served.bootstrap)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Broker 99 is not available" in result.stderr


def test_altering_a_broker_config_reaches_the_cluster_which_refuses_it(served: ServedCluster) -> None:  # noqa: F811
    # kplay serve's brokers have fixed configs: the refusal is the cluster's, in kafka-configs' form.
    result = run("configs", "--alter", "--broker", "0", "--add-config", "log.cleaner.threads=2",
                 cluster=served.bootstrap)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "InvalidRequestException: kplay's broker configs are fixed" in result.stderr


def test_a_read_only_profile_refuses_broker_config_changes(tmp_path, served: ServedCluster) -> None:  # noqa: F811
    profiles = tmp_path / "clusters.toml"
    profiles.write_text(f'[ro]\n"bootstrap.servers" = "{served.bootstrap}"\nread_only = true\n')
    line = one_line_failure(run("configs", "--alter", "--entity-default", "--entity-type", "brokers",
                                "--add-config", "log.cleaner.threads=2", cluster="ro", profiles=profiles))
    assert "read-only" in line and "default configs of the brokers" in line


def test_broker_configs_on_tansu(tansu: ServedCluster) -> None:  # noqa: F811
    # What Tansu answers (no entries: TANSU_NO_BROKER_CONFIGS) is printed in kafka-configs' form.
    result = run("configs", "--describe", "--all", "--entity-type", "brokers", cluster=tansu.bootstrap)
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
    assert "All configs for broker" in result.stdout


def test_the_brokers_default_entity_cannot_be_altered_through_confluent_kafka(served: ServedCluster) -> None:  # noqa: F811
    line = one_line_failure(run("configs", "--alter", "--entity-default", "--entity-type", "brokers",
                                "--add-config", "log.cleaner.threads=2", cluster=served.bootstrap))
    assert "librdkafka refuses an empty resource name" in line and "--broker ID" in line


# --- leader-election ----------------------------------------------------------------------------

def test_a_preferred_election_moves_leadership_back_on_kplay_serve(served: ServedCluster) -> None:  # noqa: F811
    topic = unique("elect")
    served.create_topic(topic, 1, 2)
    preferred = served.leader(topic, 0)
    served.call(served.core.controller.stop_broker(preferred))
    try:
        assert served.leader(topic, 0) != preferred
    finally:
        served.call(served.core.controller.start_broker(preferred))
    arguments = ("leader-election", "--election-type", "preferred", "--topic", topic, "--partition", "0")

    def elected() -> subprocess.CompletedProcess | None:
        # The restarted broker leads again once it is back in the ISR; until then Kafka refuses (status 1).
        result = run(*arguments, cluster=served.bootstrap)
        return result if result.returncode == 0 else None

    result = wait_for(elected, "the preferred replica to be elected")
    assert result.stdout == f"Successfully completed leader election (PREFERRED) for partitions {topic}-0\n"
    assert served.leader(topic, 0) == preferred
    again = run(*arguments, cluster=served.bootstrap)
    assert again.returncode == 0 and again.stdout == f"Valid replica already elected for partitions {topic}-0\n"


def test_an_unclean_election_on_a_real_cluster_asks_for_the_topic_typed_back(served: ServedCluster) -> None:  # noqa: F811
    topic = unique("unclean")
    served.create_topic(topic, 1, 2)
    arguments = ("leader-election", "--election-type", "unclean", "--topic", topic, "--partition", "0")
    refused = run(*arguments, cluster=served.bootstrap, input="nope\n")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr and refused.stdout == ""
    assert refused.stderr.splitlines()[-1].startswith("Not confirmed: elect unclean leaders (records may be lost) in topic")
    confirmed = run(*arguments, cluster=served.bootstrap, input=f"{topic}\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout == f"Valid replica already elected for partitions {topic}-0\n"
    assert f"Type '{topic}' to confirm" in confirmed.stderr


def test_a_read_only_profile_refuses_an_election(tmp_path, served: ServedCluster) -> None:  # noqa: F811
    profiles = tmp_path / "clusters.toml"
    profiles.write_text(f'[ro]\n"bootstrap.servers" = "{served.bootstrap}"\nread_only = true\n')
    line = one_line_failure(run("leader-election", "--election-type", "preferred", "--all-topic-partitions",
                                cluster="ro", profiles=profiles))
    assert "read-only" in line and "elect preferred leaders" in line


def test_an_election_on_a_cluster_without_elect_leaders_is_one_line(tansu: ServedCluster) -> None:  # noqa: F811
    # Tansu 0.6 has no ElectLeaders (TANSU_NO_ELECT_LEADERS): the client's refusal is one line.
    line = one_line_failure(run("leader-election", "--election-type", "preferred", "--all-topic-partitions",
                                cluster=tansu.bootstrap))
    assert "ElectLeaders" in line and "not supported by broker" in line
