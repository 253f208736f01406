"""``kplay schema-registry --cluster`` and ``kplay connect --cluster``: the profile's REST services.

One ``kplay serve`` (a subprocess, on free ports) serves Kafka, the Schema Registry and Kafka
Connect; a profile names its ``schema.registry.url`` and ``connect.url``. The tools must print
what they print for the served data file itself (``--data``), and refuse in one line what a
profile does not allow (no URL, read-only) or what the service refuses (with its own message).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from cli_harness import KPLAY, ROOT
from test_cli_cluster import one_line_failure, run

SCHEMA_V1 = {"type": "record", "name": "User", "fields": [{"name": "id", "type": "int"}]}
#: Adds a field with a default: BACKWARD compatible.
SCHEMA_V2 = {"type": "record", "name": "User",
             "fields": [{"name": "id", "type": "int"}, {"name": "email", "type": "string", "default": ""}]}
#: Changes a field's type: incompatible.
SCHEMA_BAD = {"type": "record", "name": "User", "fields": [{"name": "id", "type": "string"}]}


class ServeProcess:
    """``kplay serve`` with every API on free ports, in its own process."""

    def __init__(self, data_path: Path) -> None:
        self.data_path = data_path
        self.process = subprocess.Popen(
            [*KPLAY, "serve", "--port", "0", "--schema-registry-port", "0", "--connect-port", "0",
             "--data", str(data_path)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, cwd=ROOT)
        assert self.process.stdout is not None
        found: dict[str, str] = {}
        for line in self.process.stdout:  # the lines it prints once listening
            if line.startswith("bootstrap.servers="):
                found["bootstrap"] = line.strip().split("=", 1)[1]
            elif line.startswith("Schema Registry: "):
                found["registry"] = line.split(": ", 1)[1].strip()
            elif line.startswith("Kafka Connect: "):
                found["connect"] = line.split(": ", 1)[1].strip()
            if len(found) == 3:
                break
        if len(found) != 3:
            self.stop()
            raise RuntimeError(f"kplay serve did not start (saw {found})")
        self.bootstrap, self.registry, self.connect = found["bootstrap"], found["registry"], found["connect"]

    def stop(self) -> None:
        """Stop the server and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    server = ServeProcess(Path(tmp_path_factory.mktemp("cli-rest")) / "cluster.db")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def profiles(tmp_path: Path, serving: ServeProcess) -> Path:
    path = tmp_path / "clusters.toml"
    path.write_text(f'''
[full]
"bootstrap.servers" = "{serving.bootstrap}"
"schema.registry.url" = "{serving.registry}"
"connect.url" = "{serving.connect}"

[kafka-only]
"bootstrap.servers" = "{serving.bootstrap}"

[frozen]
"bootstrap.servers" = "{serving.bootstrap}"
"schema.registry.url" = "{serving.registry}"
"connect.url" = "{serving.connect}"
read_only = true
''')
    return path


def on_file(serving: ServeProcess, *args: str) -> subprocess.CompletedProcess:
    """The same tool on the served data file itself."""
    return subprocess.run([*KPLAY, *args, "--data", str(serving.data_path)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def schema_file(tmp_path: Path, name: str, schema: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(schema))
    return str(path)


def test_the_schema_registry_tool_on_a_profiles_registry(serving: ServeProcess, profiles: Path,
                                                        tmp_path: Path) -> None:
    subject = f"users-{tmp_path.name[-6:]}-value"
    registered = run("schema-registry", "--register", subject, schema_file(tmp_path, "v1.avsc", SCHEMA_V1),
                     cluster="full", profiles=profiles)
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.startswith("Registered schema id ") and f"as version 1 of subject '{subject}'" \
        in registered.stdout
    assert subject in run("schema-registry", "--subjects", cluster="full", profiles=profiles).stdout.splitlines()
    remote = run("schema-registry", "--get", subject, "latest", cluster="full", profiles=profiles)
    assert remote.stdout == on_file(serving, "schema-registry", "--get", subject, "latest").stdout
    assert json.loads(remote.stdout)["version"] == 1
    compatible = run("schema-registry", "--check", subject, schema_file(tmp_path, "v2.avsc", SCHEMA_V2),
                     cluster="full", profiles=profiles)
    assert (compatible.returncode, compatible.stdout.split(":")[0]) == (0, "Compatible")
    incompatible = run("schema-registry", "--check", subject, schema_file(tmp_path, "bad.avsc", SCHEMA_BAD),
                       cluster="full", profiles=profiles)
    assert incompatible.returncode == 1 and incompatible.stdout.startswith(f"Incompatible with subject '{subject}'")
    assert run("schema-registry", "--versions", subject, cluster="full", profiles=profiles).stdout == "1\n"
    refused = run("schema-registry", "--get", f"{subject}-none", "latest", cluster="full", profiles=profiles)
    assert one_line_failure(refused) == f"Error: Subject '{subject}-none' not found.; error code: 40401"
    unconfirmed = run("schema-registry", "--delete", subject, cluster="full", profiles=profiles)
    assert unconfirmed.returncode == 1 and "Traceback" not in unconfirmed.stderr
    assert unconfirmed.stderr.splitlines()[-1].startswith(f"Not confirmed: delete subject '{subject}'")
    deleted = run("schema-registry", "--delete", subject, "--yes", cluster="full", profiles=profiles)
    assert deleted.stdout == f"Soft-deleted subject '{subject}' (versions 1).\n"


def test_a_profile_without_a_registry_or_read_only_refuses_in_one_line(profiles: Path, tmp_path: Path) -> None:
    missing = run("schema-registry", "--subjects", cluster="kafka-only", profiles=profiles)
    assert "no Schema Registry: set schema.registry.url in the cluster's profile" in one_line_failure(missing)
    frozen = run("schema-registry", "--register", "x-value", schema_file(tmp_path, "v1.avsc", SCHEMA_V1),
                 cluster="frozen", profiles=profiles)
    assert "read-only" in one_line_failure(frozen)
    assert run("schema-registry", "--subjects", cluster="frozen", profiles=profiles).returncode == 0
    no_connect = run("connect", "--list", cluster="kafka-only", profiles=profiles)
    assert "no Kafka Connect: set connect.url in the cluster's profile" in one_line_failure(no_connect)


def test_the_connect_tool_on_a_profiles_connect(serving: ServeProcess, profiles: Path, tmp_path: Path) -> None:
    name = f"source-{tmp_path.name[-6:]}"
    connector = tmp_path / "source.json"
    connector.write_text(json.dumps({"name": name, "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector", "connection.url": "jdbc:sqlite:src.db",
        "table.whitelist": "rows", "mode": "bulk", "topic.prefix": "src-", "tasks.max": "1"}}))
    created = run("connect", "--create", str(connector), cluster="full", profiles=profiles)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["name"] == name
    listed = run("connect", "--list", cluster="full", profiles=profiles)
    assert name in json.loads(listed.stdout)
    assert json.loads(on_file(serving, "connect", "--list").stdout) == json.loads(listed.stdout)
    assert json.loads(run("connect", "--config", name, cluster="full", profiles=profiles).stdout)["mode"] == "bulk"
    assert json.loads(run("connect", "--status", name, cluster="full", profiles=profiles).stdout)["name"] == name
    assert run("connect", "--pause", name, cluster="full", profiles=profiles).stdout == f"Connector {name} paused.\n"
    frozen = run("connect", "--delete", name, "--yes", cluster="frozen", profiles=profiles)
    assert "read-only" in one_line_failure(frozen)
    unknown = run("connect", "--status", f"{name}-none", cluster="full", profiles=profiles)
    assert one_line_failure(unknown) == f"Error: No status found for connector {name}-none"  # Connect's words
    assert unknown.stderr == on_file(serving, "connect", "--status", f"{name}-none").stderr
    worker = run("connect", "--worker", cluster="full", profiles=profiles)
    assert "--worker runs a Connect worker on the playground's file" in one_line_failure(worker)
    deleted = run("connect", "--delete", name, cluster="full", profiles=profiles, input=f"{name}\n")
    assert deleted.returncode == 0 and f"Connector {name} deleted." in deleted.stdout
    assert name not in json.loads(run("connect", "--list", cluster="full", profiles=profiles).stdout)


def test_an_unreachable_registry_is_one_line(tmp_path: Path) -> None:
    from backend_support import free_port
    from test_serve_support import ServedCluster

    served = ServedCluster(tmp_path / "cluster.db").start()
    try:
        path = tmp_path / "clusters.toml"
        path.write_text(f'[gone]\n"bootstrap.servers" = "{served.bootstrap}"\n'
                        f'"schema.registry.url" = "http://127.0.0.1:{free_port()}"\n')
        line = one_line_failure(run("schema-registry", "--subjects", cluster="gone", profiles=path))
        assert "Cannot reach the Schema Registry at http://127.0.0.1:" in line and "Connection refused" in line
    finally:
        served.stop()


