"""Avro serializer and deserializer: Confluent's wire format through the registry."""

from __future__ import annotations

import io
import json
import struct

import avro.io
import avro.schema
import pytest

from broker_core import Cluster, Consumer, Producer, TopicPartition
from broker_core.avro_serde import (AvroDeserializer, AvroSerializer, DecodedValue, SerializationError,
                                    encode_wire_format, schema_id_of, value_to_json)
from broker_core.schema_registry_errors import IncompatibleSchema, SchemaNotFound, SubjectNotFound

USER_V1 = json.dumps({
    "type": "record", "name": "User", "namespace": "kplay.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "email", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
        {"name": "avatar", "type": "bytes", "default": ""},
    ],
})
USER_V2 = json.dumps({
    "type": "record", "name": "User", "namespace": "kplay.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "country", "type": "string", "default": "NL"},
    ],
})
ALICE = {"id": 7, "name": "Alice", "email": "alice@example.com", "tags": ["admin"], "avatar": b"\x00\xff"}


def avro_binary(schema_text: str, value: object) -> bytes:
    """What Apache Avro itself writes for ``value`` (no framing)."""
    buffer = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(schema_text)).write(value, avro.io.BinaryEncoder(buffer))
    return buffer.getvalue()


async def test_round_trip_in_confluents_wire_format(cluster: Cluster) -> None:
    serializer = AvroSerializer(cluster.schemas, USER_V1)
    data = await serializer.serialize(ALICE, "users")
    assert data is not None

    schema_id = (await cluster.schemas.get_latest_version("users-value")).schema_id
    # Magic byte 0, the id as 4 big-endian bytes, then exactly Avro's own binary encoding.
    assert data[0] == 0
    assert struct.unpack(">I", data[1:5])[0] == schema_id
    assert data[5:] == avro_binary(USER_V1, ALICE)
    assert data == encode_wire_format(schema_id, avro_binary(USER_V1, ALICE))
    assert schema_id_of(data) == schema_id

    decoded = await AvroDeserializer(cluster.schemas).deserialize(data, "users")
    assert decoded == DecodedValue(ALICE, schema_id, "users-value", 1)


async def test_keys_use_the_key_subject_and_subjects_can_be_named(cluster: Cluster) -> None:
    keys = AvroSerializer(cluster.schemas, '"string"')
    key = await keys.serialize("user-7", "users", is_key=True)
    other = await keys.serialize("x", subject="custom-subject")
    assert await cluster.schemas.get_subjects() == ["custom-subject", "users-key"]
    assert schema_id_of(key) == schema_id_of(other)  # one schema, one id, two subjects
    decoded = await AvroDeserializer(cluster.schemas).deserialize(key, "users", is_key=True)
    assert decoded is not None and (decoded.value, decoded.subject, decoded.version) == ("user-7", "users-key", 1)


async def test_records_travel_through_a_topic(cluster: Cluster) -> None:
    await cluster.topics.create_topic("users", partitions=1, replication_factor=1)
    serializer = AvroSerializer(cluster.schemas, USER_V1)
    async with Producer(cluster) as producer:
        for i in range(3):
            value = await serializer.serialize({**ALICE, "id": i}, "users")
            await producer.send_and_wait("users", value, key=str(i).encode())
    consumer = Consumer(cluster)
    consumer.assign([TopicPartition("users", 0)])
    consumer.seek(TopicPartition("users", 0), 0)
    deserializer = AvroDeserializer(cluster.schemas)
    records = []
    while len(records) < 3:
        records.extend(await consumer.poll(timeout_ms=1000))
    decoded = [await deserializer.deserialize(r.value, r.topic) for r in records]
    assert [d.value["id"] for d in decoded if d is not None] == [0, 1, 2]
    await consumer.close()


async def test_a_reader_schema_resolves_old_and_new_values(cluster: Cluster) -> None:
    v1 = await AvroSerializer(cluster.schemas, USER_V1).serialize(ALICE, "users")
    v2 = await AvroSerializer(cluster.schemas, USER_V2).serialize({"id": 8, "name": "Bob", "country": "BE"}, "users")
    assert schema_id_of(v1) != schema_id_of(v2)
    assert await cluster.schemas.get_versions("users-value") == [1, 2]

    plain = AvroDeserializer(cluster.schemas)
    assert (await plain.deserialize(v1, "users")).version == 1
    assert (await plain.deserialize(v2, "users")).version == 2

    as_v2 = AvroDeserializer(cluster.schemas, reader_schema=USER_V2)
    old = await as_v2.deserialize(v1, "users")
    assert old.value == {"id": 7, "name": "Alice", "country": "NL"}  # the default fills the new field
    assert old.schema_id == schema_id_of(v1)  # the writer's id


async def test_an_incompatible_schema_is_refused_on_first_use(cluster: Cluster) -> None:
    await AvroSerializer(cluster.schemas, USER_V1).serialize(ALICE, "users")
    breaking = json.dumps({"type": "record", "name": "User", "namespace": "kplay.test",
                           "fields": [{"name": "id", "type": "string"}]})
    with pytest.raises(IncompatibleSchema):
        await AvroSerializer(cluster.schemas, breaking).serialize({"id": "x"}, "users")


async def test_without_auto_register_the_schema_must_exist(cluster: Cluster) -> None:
    serializer = AvroSerializer(cluster.schemas, USER_V1, auto_register=False)
    with pytest.raises(SubjectNotFound) as missing:
        await serializer.serialize(ALICE, "users")
    assert missing.value.code == 40401
    schema_id = await cluster.schemas.register_schema("users-value", USER_V1)
    assert schema_id_of(await serializer.serialize(ALICE, "users")) == schema_id

    latest = AvroSerializer(cluster.schemas, use_latest_version=True)
    assert schema_id_of(await latest.serialize(ALICE, "users")) == schema_id


async def test_a_value_that_does_not_fit_the_schema_is_refused_clearly(cluster: Cluster) -> None:
    serializer = AvroSerializer(cluster.schemas, USER_V1)
    with pytest.raises(SerializationError) as refused:
        await serializer.serialize({**ALICE, "id": "seven"}, "users")
    message = str(refused.value)
    assert "users-value" in message and '"id"' in message and "\n" not in message
    assert await serializer.serialize(None, "users") is None  # a tombstone stays a tombstone


@pytest.mark.parametrize(("payload", "detail"), [
    (b'{"id": 7, "name": "Alice"}', "Unknown magic byte 0x7b"),
    (b"hello", "Unknown magic byte 0x68"),
    (b"", "empty"),
    (b"\x00\x00\x01", "too short"),
])
async def test_a_value_not_in_confluents_format_is_refused_clearly(cluster: Cluster, payload: bytes,
                                                                   detail: str) -> None:
    with pytest.raises(SerializationError) as refused:
        await AvroDeserializer(cluster.schemas).deserialize(payload)
    assert detail in str(refused.value)
    assert schema_id_of(payload) is None


async def test_unknown_ids_and_broken_avro_are_refused_clearly(cluster: Cluster) -> None:
    deserializer = AvroDeserializer(cluster.schemas)
    with pytest.raises(SerializationError, match="Schema 42 not found"):
        await deserializer.deserialize(encode_wire_format(42, b"\x02"))
    data = await AvroSerializer(cluster.schemas, USER_V1).serialize(ALICE, "users")
    with pytest.raises(SerializationError, match=r"Error deserializing Avro message for id 1"):
        await deserializer.deserialize(data[:8])
    assert await deserializer.deserialize(None) is None
    with pytest.raises(SchemaNotFound):
        await cluster.schemas.get_schema(42)


async def test_values_are_shown_as_json(cluster: Cluster) -> None:
    data = await AvroSerializer(cluster.schemas, USER_V1).serialize(ALICE, "users")
    decoded = await AvroDeserializer(cluster.schemas).deserialize(data)
    assert json.loads(value_to_json(decoded.value)) == {**ALICE, "avatar": "\u0000\u00ff"}
