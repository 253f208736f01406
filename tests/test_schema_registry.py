"""The Schema Registry through ``cluster.schemas``: Confluent's behaviour, codes and wording."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from broker_core import Cluster, ManualClock
from broker_core.events import CompatibilityChanged, SchemaDeleted, SchemaRegistered
from broker_core.schema_registry import COMPATIBILITY_LEVELS, topic_subject
from broker_core.schema_registry_errors import (IncompatibleSchema, InvalidCompatibilityLevel,
                                                InvalidSchema, InvalidSubject, InvalidVersion,
                                                SchemaNotFound, SubjectCompatibilityNotConfigured,
                                                SubjectNotFound, SubjectNotSoftDeleted,
                                                SubjectSoftDeleted, VersionNotFound,
                                                VersionNotSoftDeleted, VersionSoftDeleted)


def record(*fields: dict[str, Any], name: str = "User") -> str:
    """An Avro record schema's JSON text."""
    return json.dumps({"type": "record", "name": name, "namespace": "kplay.test", "fields": list(fields)})


ID_INT = {"name": "id", "type": "int"}
ID_LONG = {"name": "id", "type": "long"}
NAME = {"name": "name", "type": "string"}
NOTE_WITH_DEFAULT = {"name": "note", "type": "string", "default": ""}
EMAIL_WITH_DEFAULT = {"name": "email", "type": "string", "default": ""}
EMAIL = {"name": "email", "type": "string"}

BASE = record(ID_INT, NAME, NOTE_WITH_DEFAULT)
BASE_LONG = record(ID_LONG, NAME)

#: (evolution, old schema, new schema, {level: accepted}) for the non-transitive checks.
EVOLUTIONS = [
    ("add a field with a default", BASE, record(ID_INT, NAME, NOTE_WITH_DEFAULT, EMAIL_WITH_DEFAULT),
     {"BACKWARD": True, "FORWARD": True, "FULL": True}),
    ("add a field without a default", BASE, record(ID_INT, NAME, NOTE_WITH_DEFAULT, EMAIL),
     {"BACKWARD": False, "FORWARD": True, "FULL": False}),
    ("remove a field with a default", BASE, record(ID_INT, NAME),
     {"BACKWARD": True, "FORWARD": True, "FULL": True}),
    ("remove a field without a default", BASE, record(ID_INT, NOTE_WITH_DEFAULT),
     {"BACKWARD": True, "FORWARD": False, "FULL": False}),
    ("promote int to long", BASE, record(ID_LONG, NAME, NOTE_WITH_DEFAULT),
     {"BACKWARD": True, "FORWARD": False, "FULL": False}),
    ("narrow long to int", BASE_LONG, record(ID_INT, NAME),
     {"BACKWARD": False, "FORWARD": True, "FULL": False}),
    ("change string to int", BASE, record(ID_INT, {"name": "name", "type": "int"}, NOTE_WITH_DEFAULT),
     {"BACKWARD": False, "FORWARD": False, "FULL": False}),
]


def _cases() -> list[Any]:
    cases = []
    for evolution, old, new, accepted in EVOLUTIONS:
        for level in COMPATIBILITY_LEVELS:
            # With a single earlier version a transitive level decides as its plain one.
            expected = True if level == "NONE" else accepted[level.removesuffix("_TRANSITIVE")]
            cases.append(pytest.param(level, old, new, expected, id=f"{level}-{evolution.replace(' ', '-')}"))
    return cases


@pytest.mark.parametrize(("level", "old", "new", "accepted"), _cases())
async def test_each_level_accepts_and_refuses_the_right_evolutions(
        cluster: Cluster, level: str, old: str, new: str, accepted: bool) -> None:
    registry = cluster.schemas
    await registry.set_compatibility(level, "users-value")
    first = await registry.register_schema("users-value", old)

    report = await registry.test_compatibility("users-value", new)
    assert report.is_compatible is accepted
    assert report.compatibility == level

    if accepted:
        second = await registry.register_schema("users-value", new)
        assert second != first
        assert await registry.get_versions("users-value") == [1, 2]
    else:
        with pytest.raises(IncompatibleSchema) as refused:
            await registry.register_schema("users-value", new)
        error = refused.value
        assert (error.code, error.http_status) == (409, 409)
        assert error.reasons and error.reasons == report.reasons
        assert error.old_version == 1 and error.compatibility == level
        assert str(error).startswith('Schema being registered is incompatible with an earlier schema '
                                     'for subject "users-value", details: [{errorType:')
        assert await registry.get_versions("users-value") == [1]


async def test_the_reasons_name_the_field_and_the_direction(cluster: Cluster) -> None:
    registry = cluster.schemas
    await registry.register_schema("users-value", BASE)
    with pytest.raises(IncompatibleSchema) as refused:
        await registry.register_schema("users-value", record(ID_INT, NAME, NOTE_WITH_DEFAULT, EMAIL))
    assert refused.value.reasons == [
        "The field 'email' at path '/fields/3' in the new schema has no default value "
        "and is missing in the old schema"]
    assert "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'" in refused.value.messages[0]
    assert "{oldSchemaVersion: 1}" in refused.value.messages
    assert "{compatibility: 'BACKWARD'}" in refused.value.messages

    await registry.set_compatibility("FORWARD", "users-value")
    report = await registry.test_compatibility("users-value", record(ID_INT, NOTE_WITH_DEFAULT))
    assert report.reasons == [
        "The field 'name' at path '/fields/1' in the old schema has no default value "
        "and is missing in the new schema"]

    report = await registry.test_compatibility("users-value", record(ID_LONG, NAME, NOTE_WITH_DEFAULT))
    assert report.reasons == ["The type (path '/fields/0/type') of a field in the old schema does not match "
                              "with the new schema (reader type: int not compatible with writer type: long)"]


# Chains where the newest version is compatible with the latest one but not with the first.
TRANSITIVE_CHAINS = {
    # v3 needs email, which v2 has (with a default) but v1 never wrote.
    "BACKWARD": [record(ID_INT), record(ID_INT, EMAIL_WITH_DEFAULT), record(ID_INT, EMAIL)],
    # v1 readers need name, which v2 readers can default but v1 readers cannot.
    "FORWARD": [record(ID_INT, NAME), record(ID_INT, {**NAME, "default": ""}), record(ID_INT)],
    "FULL": [record(ID_INT, NAME), record(ID_INT, {**NAME, "default": ""}), record(ID_INT)],
}


@pytest.mark.parametrize("level", ["BACKWARD", "FORWARD", "FULL"])
async def test_transitive_levels_check_every_version_plain_ones_only_the_latest(
        cluster: Cluster, level: str) -> None:
    registry = cluster.schemas
    v1, v2, v3 = TRANSITIVE_CHAINS[level]
    for subject, subject_level in (("plain-value", level), ("transitive-value", f"{level}_TRANSITIVE")):
        await registry.set_compatibility(subject_level, subject)
        await registry.register_schema(subject, v1)
        await registry.register_schema(subject, v2)

    await registry.register_schema("plain-value", v3)
    assert await registry.get_versions("plain-value") == [1, 2, 3]

    with pytest.raises(IncompatibleSchema) as refused:
        await registry.register_schema("transitive-value", v3)
    assert refused.value.old_version == 1
    assert refused.value.compatibility == f"{level}_TRANSITIVE"
    # The check endpoints: against every version (what registering does), or one version.
    assert not (await registry.test_compatibility("transitive-value", v3, version=None)).is_compatible
    assert (await registry.test_compatibility("transitive-value", v3, version="latest")).is_compatible
    assert not (await registry.test_compatibility("transitive-value", v3, version=1)).is_compatible
    assert (await registry.test_compatibility("plain-value", v3, version=None)).is_compatible


async def test_global_level_applies_unless_the_subject_has_its_own(cluster: Cluster) -> None:
    registry = cluster.schemas
    assert await registry.get_compatibility() == "BACKWARD"  # Confluent's default
    assert await registry.set_compatibility("forward") == "FORWARD"  # any case, Confluent's spelling
    assert await registry.set_compatibility("NONE", "free-value") == "NONE"

    remove_name = record(ID_INT, NOTE_WITH_DEFAULT)  # FORWARD refuses, NONE accepts
    for subject in ("free-value", "strict-value"):
        await registry.register_schema(subject, BASE)
    await registry.register_schema("free-value", remove_name)
    with pytest.raises(IncompatibleSchema) as refused:
        await registry.register_schema("strict-value", remove_name)
    assert refused.value.compatibility == "FORWARD"

    assert await registry.get_compatibility("free-value") == "NONE"
    with pytest.raises(SubjectCompatibilityNotConfigured) as unset:
        await registry.get_compatibility("strict-value")
    assert unset.value.code == 40408
    assert str(unset.value) == "Subject 'strict-value' does not have subject-level compatibility configured"
    assert await registry.get_compatibility("strict-value", default_to_global=True) == "FORWARD"

    # Removing the subject's level makes it follow the global one again.
    assert await registry.delete_compatibility("free-value") == "NONE"
    assert await registry.effective_compatibility("free-value") == "FORWARD"
    assert not (await registry.test_compatibility("free-value", BASE_LONG)).is_compatible
    assert await registry.delete_compatibility() == "FORWARD"
    assert await registry.get_compatibility() == "BACKWARD"


async def test_an_unknown_level_is_refused_with_confluents_code(cluster: Cluster) -> None:
    for level in ("SIDEWAYS", "", "backwards"):
        with pytest.raises(InvalidCompatibilityLevel) as refused:
            await cluster.schemas.set_compatibility(level, "x-value")
        assert refused.value.code == 42203
        assert "Valid values are none, backward, forward, full" in str(refused.value)
    assert await cluster.schemas.get_compatibility() == "BACKWARD"


async def test_the_same_schema_gets_the_same_id_under_every_subject(cluster: Cluster) -> None:
    registry = cluster.schemas
    user = await registry.register_schema(topic_subject("users"), BASE)
    key_id = await registry.register_schema(topic_subject("users", is_key=True), '"string"')
    # The same schema written differently (spacing, key order, {"type": ...}) is the same schema.
    reordered = json.dumps({"fields": json.loads(BASE)["fields"], "namespace": "kplay.test",
                            "name": "User", "type": "record"}, indent=4)
    assert await registry.register_schema("audit-value", reordered) == user
    assert await registry.register_schema("names-key", '{"type": "string"}') == key_id
    assert (user, key_id) == (1, 2)
    assert await registry.register_schema("other-value", BASE_LONG) == 3

    # Each subject numbers its own versions; the id is global.
    audit = await registry.get_version("audit-value", 1)
    assert (audit.subject, audit.version, audit.schema_id) == ("audit-value", 1, user)
    assert await registry.get_schema_versions(user) == [("audit-value", 1), ("users-value", 1)]
    assert (await registry.get_schema(user)).schema == audit.schema
    assert await registry.get_subjects() == ["audit-value", "names-key", "other-value", "users-key", "users-value"]
    assert await registry.get_subjects(prefix="users-") == ["users-key", "users-value"]


async def test_registering_an_existing_schema_returns_its_id_and_adds_no_version(cluster: Cluster) -> None:
    registry = cluster.schemas
    first = await registry.register_schema("users-value", BASE)
    evolved = await registry.register_schema("users-value", record(ID_INT, NAME))
    assert await registry.register_schema("users-value", BASE) == first  # an older version counts too
    assert await registry.register_schema("users-value", record(ID_INT, NAME)) == evolved
    assert await registry.get_versions("users-value") == [1, 2]

    found = await registry.lookup_schema("users-value", BASE)
    assert (found.version, found.schema_id) == (1, first)
    with pytest.raises(SchemaNotFound) as missing:
        await registry.lookup_schema("users-value", BASE_LONG)
    assert (missing.value.code, str(missing.value)) == (40403, "Schema not found")


async def test_get_version_and_latest(cluster: Cluster) -> None:
    registry = cluster.schemas
    await registry.register_schema("users-value", BASE)
    await registry.register_schema("users-value", record(ID_INT, NAME))
    latest = await registry.get_version("users-value", "latest")
    assert latest.version == 2 and latest == await registry.get_latest_version("users-value")
    assert latest == await registry.get_version("users-value", -1)
    assert (await registry.get_version("users-value", "1")).schema == json.dumps(
        json.loads(BASE), separators=(",", ":"))
    assert latest.as_dict() == {"subject": "users-value", "version": 2, "id": 2, "schema": latest.schema}

    with pytest.raises(VersionNotFound) as missing:
        await registry.get_version("users-value", 3)
    assert (missing.value.code, str(missing.value)) == (40402, "Version 3 not found.")
    with pytest.raises(SubjectNotFound) as unknown:
        await registry.get_version("nobody-value", 1)
    assert (unknown.value.code, str(unknown.value)) == (40401, "Subject 'nobody-value' not found.")
    with pytest.raises(SubjectNotFound):
        await registry.get_versions("nobody-value")
    for bad in ("first", 0, -2, 2**31, "1.5"):
        with pytest.raises(InvalidVersion) as invalid:
            await registry.get_version("users-value", bad)
        assert invalid.value.code == 42202
    with pytest.raises(SchemaNotFound) as no_id:
        await registry.get_schema(99)
    assert (no_id.value.code, str(no_id.value)) == (40403, "Schema 99 not found")


@pytest.mark.parametrize(("text", "detail"), [
    ('{"type": "record", "name": "User", "fields": [', "not valid JSON"),
    ("", "not valid JSON"),
    ('{"type": "recrod", "name": "User", "fields": []}', "recrod"),
    ('{"type": "record", "name": "User"}', "fields"),
    ('"strnig"', "unknown type \"strnig\""),
    ('{"type": "record", "name": "1User", "fields": [{"name": "id", "type": "int"}]}', "1User"),
    (record({"name": "id", "type": "int", "default": "zero"}), "invalid default for field id"),
    (record(ID_INT, ID_INT), "id"),
    ('{"type": "enum", "name": "Color", "symbols": ["RED", "RED"]}', "RED"),
])
async def test_bad_schemas_are_refused_clearly(cluster: Cluster, text: str, detail: str) -> None:
    with pytest.raises(InvalidSchema) as refused:
        await cluster.schemas.register_schema("users-value", text)
    assert (refused.value.code, refused.value.http_status) == (42201, 422)
    message = str(refused.value)
    assert message.startswith(("Invalid schema: ", "Invalid Avro schema: ")) and detail in message
    assert "\n" not in message
    assert await cluster.schemas.get_subjects(deleted=True) == []


async def test_bad_subjects_and_schema_types_are_refused(cluster: Cluster) -> None:
    for subject in ("", "users\x1b[31m-value", "a\nb"):
        with pytest.raises(InvalidSubject) as refused:
            await cluster.schemas.register_schema(subject, BASE)
        assert refused.value.code == 42208
    with pytest.raises(InvalidSchema, match="PROTOBUF"):
        await cluster.schemas.register_schema("users-value", BASE, schema_type="PROTOBUF")


async def test_soft_delete_hides_a_subject_and_permanent_delete_needs_it_first(cluster: Cluster) -> None:
    registry = cluster.schemas
    schema_id = await registry.register_schema("users-value", BASE)
    await registry.register_schema("users-value", record(ID_INT, NAME))

    with pytest.raises(SubjectNotSoftDeleted) as too_soon:
        await registry.delete_subject("users-value", permanent=True)
    assert too_soon.value.code == 40405
    assert await registry.delete_subject("users-value") == [1, 2]
    assert await registry.get_subjects() == []
    assert await registry.get_subjects(deleted=True) == ["users-value"]
    assert await registry.get_versions("users-value", deleted=True) == [1, 2]
    assert (await registry.get_version("users-value", 1, deleted=True)).deleted
    with pytest.raises(SubjectNotFound):
        await registry.get_version("users-value", 1)
    with pytest.raises(SubjectSoftDeleted) as twice:
        await registry.delete_subject("users-value")
    assert twice.value.code == 40404
    # A soft-deleted schema is still readable by id (old records still decode).
    assert (await registry.get_schema(schema_id)).schema_id == schema_id

    # Registering again continues the numbering and keeps the schema's id.
    assert await registry.register_schema("users-value", BASE) == schema_id
    assert await registry.get_versions("users-value") == [3]

    await registry.delete_subject("users-value")
    assert await registry.delete_subject("users-value", permanent=True) == [1, 2, 3]
    assert await registry.get_subjects(deleted=True) == []
    with pytest.raises(SchemaNotFound):
        await registry.get_schema(schema_id)
    with pytest.raises(SubjectNotFound):
        await registry.delete_subject("users-value")


async def test_deleting_one_version(cluster: Cluster) -> None:
    registry = cluster.schemas
    await registry.register_schema("users-value", BASE)
    await registry.register_schema("users-value", record(ID_INT, NAME))
    with pytest.raises(VersionNotSoftDeleted) as too_soon:
        await registry.delete_version("users-value", 2, permanent=True)
    assert too_soon.value.code == 40407
    assert await registry.delete_version("users-value", "latest") == 2
    assert (await registry.get_latest_version("users-value")).version == 1
    with pytest.raises(VersionSoftDeleted) as twice:
        await registry.delete_version("users-value", 2)
    assert twice.value.code == 40406
    assert await registry.delete_version("users-value", 2, permanent=True) == 2
    assert await registry.get_versions("users-value", deleted=True) == [1]
    with pytest.raises(VersionNotFound):
        await registry.delete_version("users-value", 7)


async def test_deleted_versions_are_not_checked_for_compatibility(cluster: Cluster) -> None:
    registry = cluster.schemas
    await registry.register_schema("users-value", BASE)
    changed = record(ID_INT, {"name": "name", "type": "int"})
    assert not (await registry.test_compatibility("users-value", changed, version=None)).is_compatible
    await registry.delete_subject("users-value")
    assert (await registry.test_compatibility("users-value", changed, version=None)).is_compatible
    await registry.register_schema("users-value", changed)
    assert await registry.get_versions("users-value") == [2]


async def test_a_compatibility_test_registers_nothing_and_needs_an_existing_version(cluster: Cluster) -> None:
    registry = cluster.schemas
    with pytest.raises(SubjectNotFound):
        await registry.test_compatibility("users-value", BASE)
    assert (await registry.test_compatibility("users-value", BASE, version=None)).is_compatible
    await registry.register_schema("users-value", BASE)
    report = await registry.test_compatibility("users-value", record(ID_INT, NAME, NOTE_WITH_DEFAULT, EMAIL))
    assert report.as_dict() == {"is_compatible": False}
    assert report.as_dict(verbose=True)["messages"] == report.messages
    assert await registry.get_versions("users-value") == [1]
    with pytest.raises(VersionNotFound):
        await registry.test_compatibility("users-value", BASE, version=5)


async def test_changes_reach_the_change_feed(cluster: Cluster) -> None:
    feed = await cluster.start_feed()
    sub = feed.subscribe("schema_registered", "schema_deleted", "compatibility_changed")
    registry = cluster.schemas
    schema_id = await registry.register_schema("users-value", BASE)
    await registry.register_schema("users-value", BASE)  # idempotent: no event
    await registry.set_compatibility("FULL", "users-value")
    await registry.delete_subject("users-value")

    events = []
    while len(events) < 3:
        events.append(await asyncio.wait_for(sub.get(), 5))
    registered, level, deleted = events
    assert isinstance(registered, SchemaRegistered)
    assert (registered.subject, registered.version, registered.schema_id) == ("users-value", 1, schema_id)
    assert isinstance(level, CompatibilityChanged) and (level.subject, level.level) == ("users-value", "FULL")
    assert isinstance(deleted, SchemaDeleted) and deleted.versions == [1] and not deleted.permanent
    assert sub.get_nowait() == []


async def test_registry_state_survives_reopening(data_path: Path, clock: ManualClock) -> None:
    async with await Cluster.open(data_path, clock=clock) as first:
        user = await first.schemas.register_schema("users-value", BASE)
        await first.schemas.register_schema("users-value", record(ID_INT, NAME))
        await first.schemas.set_compatibility("FULL")
        await first.schemas.set_compatibility("NONE", "users-value")
        await first.schemas.delete_version("users-value", 2)

    async with await Cluster.open(data_path, clock=clock) as again:
        registry = again.schemas
        assert await registry.get_subjects() == ["users-value"]
        assert await registry.get_versions("users-value") == [1]
        assert await registry.get_versions("users-value", deleted=True) == [1, 2]
        assert (await registry.get_version("users-value", 1)).schema_id == user
        assert await registry.get_compatibility() == "FULL"
        assert await registry.get_compatibility("users-value") == "NONE"
        assert await registry.register_schema("other-value", BASE) == user
        assert await registry.register_schema("third-value", BASE_LONG) == 3  # ids keep counting


async def test_a_data_file_made_before_the_registry_gets_its_tables(data_path: Path, clock: ManualClock) -> None:
    async with await Cluster.open(data_path, clock=clock):
        pass
    raw = sqlite3.connect(data_path)
    for table in ("schemas", "subject_versions", "compatibility_levels"):
        raw.execute(f"DROP TABLE {table}")
    raw.commit()
    raw.close()
    async with await Cluster.open(data_path, clock=clock) as cluster:
        assert await cluster.schemas.get_subjects() == []
        assert await cluster.schemas.register_schema("users-value", BASE) == 1


async def test_two_processes_registering_at_once_agree_on_ids(data_path: Path, clock: ManualClock) -> None:
    # Two Cluster objects are two connections to the file, as two processes would be.
    async with await Cluster.open(data_path, clock=clock) as one, \
            await Cluster.open(data_path, clock=clock) as two:
        schemas = [record(ID_INT, {"name": f"f{i}", "type": "string", "default": ""}) for i in range(6)]
        ids = await asyncio.gather(*(cluster.schemas.register_schema("users-value", s)
                                     for s in schemas for cluster in (one, two)))
        assert ids[0::2] == ids[1::2]
        assert sorted(set(ids)) == list(range(1, 7))
        assert await one.schemas.get_versions("users-value") == [1, 2, 3, 4, 5, 6]
