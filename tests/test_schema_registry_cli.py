"""``kplay schema-registry`` run as a user runs it: a subprocess, plain output, one-line errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from cli_harness import kplay

from broker_core import Cluster

USER_V1 = {"type": "record", "name": "User", "fields": [{"name": "id", "type": "int"}]}
USER_V2 = {"type": "record", "name": "User",
           "fields": [{"name": "id", "type": "int"}, {"name": "email", "type": "string", "default": ""}]}
USER_BREAKING = {"type": "record", "name": "User",
                 "fields": [{"name": "id", "type": "int"}, {"name": "email", "type": "string"}]}


def write_schema(tmp_path: Path, name: str, schema: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(schema, indent=2))
    return str(path)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_register_list_get_and_evolve(data_path, tmp_path):
    v1 = write_schema(tmp_path, "user.avsc", USER_V1)
    v2 = write_schema(tmp_path, "user-v2.avsc", USER_V2)

    first = kplay(data_path, "schema-registry", "--register", "users-value", v1)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "Registered schema id 1 as version 1 of subject 'users-value'.\n"
    again = kplay(data_path, "schema-registry", "--register", "users-value", v1)
    assert again.stdout == "Schema already registered as version 1 of subject 'users-value' with id 1.\n"
    assert kplay(data_path, "schema-registry", "--register", "users-value", v2).returncode == 0
    assert kplay(data_path, "schema-registry", "--register", "audit-value", v1).stdout == (
        "Registered schema id 1 as version 1 of subject 'audit-value'.\n")

    assert kplay(data_path, "schema-registry", "--subjects").stdout == "audit-value\nusers-value\n"
    assert kplay(data_path, "schema-registry", "--versions", "users-value").stdout == "1\n2\n"
    got = kplay(data_path, "schema-registry", "--get", "users-value", "latest")
    body = json.loads(got.stdout)
    assert (body["subject"], body["version"], body["id"]) == ("users-value", 2, 2)
    assert json.loads(body["schema"]) == USER_V2
    assert json.loads(kplay(data_path, "schema-registry", "--id", "1").stdout) == {
        "schema": json.dumps(USER_V1, separators=(",", ":"))}


def test_check_and_an_incompatible_registration(data_path, tmp_path):
    v1 = write_schema(tmp_path, "user.avsc", USER_V1)
    breaking = write_schema(tmp_path, "breaking.avsc", USER_BREAKING)
    kplay(data_path, "schema-registry", "--register", "users-value", v1)

    fine = kplay(data_path, "schema-registry", "--check", "users-value", v1)
    assert fine.returncode == 0
    assert fine.stdout == "Compatible: subject 'users-value' would accept this schema (BACKWARD).\n"
    refused = kplay(data_path, "schema-registry", "--check", "users-value", breaking)
    assert refused.returncode == 1
    assert refused.stdout.splitlines() == [
        "Incompatible with version 1 of subject 'users-value' (BACKWARD):",
        "  The field 'email' at path '/fields/1' in the new schema has no default value "
        "and is missing in the old schema"]

    registered = kplay(data_path, "schema-registry", "--register", "users-value", breaking)
    assert_one_line_error(registered, "incompatible with version 1", "'email'", "error code: 409")
    assert kplay(data_path, "schema-registry", "--versions", "users-value").stdout == "1\n"

    # FORWARD accepts a new field without a default (old readers ignore it).
    level = kplay(data_path, "schema-registry", "--compatibility", "users-value", "forward")
    assert level.stdout == "Compatibility level of subject 'users-value' set to FORWARD.\n"
    assert kplay(data_path, "schema-registry", "--register", "users-value", breaking).returncode == 0
    glob = kplay(data_path, "schema-registry", "--compatibility", "__GLOBAL", "NONE")
    assert glob.stdout == "Global compatibility level set to NONE.\n"

    async def levels() -> tuple[str, str]:
        async with await Cluster.open(data_path) as cluster:
            return await cluster.schemas.get_compatibility(), await cluster.schemas.get_compatibility("users-value")
    assert asyncio.run(levels()) == ("NONE", "FORWARD")


def test_delete_soft_then_permanent(data_path, tmp_path):
    v1 = write_schema(tmp_path, "user.avsc", USER_V1)
    kplay(data_path, "schema-registry", "--register", "users-value", v1)
    too_soon = kplay(data_path, "schema-registry", "--delete", "users-value", "--permanent")
    assert_one_line_error(too_soon, "was not deleted first before being permanently deleted", "40405")
    assert kplay(data_path, "schema-registry", "--delete", "users-value").stdout == (
        "Soft-deleted subject 'users-value' (versions 1).\n")
    assert kplay(data_path, "schema-registry", "--subjects").stdout == ""
    assert kplay(data_path, "schema-registry", "--subjects", "--deleted").stdout == "users-value\n"
    assert kplay(data_path, "schema-registry", "--delete", "users-value", "--permanent").returncode == 0
    assert kplay(data_path, "schema-registry", "--subjects", "--deleted").stdout == ""


def test_mistakes_are_one_line_errors(data_path, tmp_path):
    v1 = write_schema(tmp_path, "user.avsc", USER_V1)
    bad_json = tmp_path / "bad.avsc"
    bad_json.write_text('{"type": "record", ')
    bad_avro = write_schema(tmp_path, "bad-avro.avsc", {"type": "record", "name": "User", "fields": [
        {"name": "id", "type": "integer"}]})
    binary = tmp_path / "binary.avsc"
    binary.write_bytes(b"\xff\xfe\x00")
    kplay(data_path, "schema-registry", "--register", "users-value", v1)

    cases = [
        (("--register", "users-value", str(bad_json)), ("Invalid schema: not valid JSON", "42201")),
        (("--register", "users-value", bad_avro), ("Invalid Avro schema", "integer", "42201")),
        (("--register", "users-value", str(tmp_path / "missing.avsc")), ("No such file",)),
        (("--register", "users-value", str(binary)), ("not a UTF-8 text file",)),
        (("--get", "users-value", "7"), ("Version 7 not found.", "40402")),
        (("--get", "users-value", "seven"), ("is not a valid version id", "42202")),
        (("--get", "nobody-value", "1"), ("Subject 'nobody-value' not found.", "40401")),
        (("--id", "99"), ("Schema 99 not found", "40403")),
        (("--compatibility", "users-value", "SIDEWAYS"), ("Invalid compatibility level", "42203")),
        (("--subjects", "--versions", "users-value"), ("exactly one action",)),
        (("--subjects", "--permanent"), ("--permanent go with --delete",)),
    ]
    for args, fragments in cases:
        assert_one_line_error(kplay(data_path, "schema-registry", *args), *fragments)
    assert kplay(data_path, "schema-registry", "--versions", "users-value").stdout == "1\n"
