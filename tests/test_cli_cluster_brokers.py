"""``kplay brokers``, ``metadata-quorum`` and ``transactions`` with ``--cluster`` (issue 16), as subprocesses.

``brokers --list`` shows what a client sees (Metadata: live brokers, the controller id); what a Kafka
client cannot do (stop a broker, DescribeQuorum, ListTransactions in confluent-kafka) is one line.
"""

from __future__ import annotations

import subprocess

import pytest

from cli_harness import KPLAY, ROOT
from test_cli_cluster import one_line_failure, run
from test_serve_support import ServedCluster

from backend_support import served, tansu  # noqa: F401


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
