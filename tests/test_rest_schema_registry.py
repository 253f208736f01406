"""The Schema Registry REST API: Confluent's paths, bodies, statuses, content type and error shapes.

The app is driven in the test's own event loop through httpx's ASGI transport (the
transport Starlette's TestClient wraps): TestClient would run the app on an event loop of
its own in another thread, and the cluster's SQLite connection and locks belong to this one.
"""

from __future__ import annotations

import json
from typing import AsyncIterator

import httpx
import pytest

from app.serve.schema_registry_api import SCHEMA_REGISTRY_MEDIA_TYPE, schema_registry_app
from broker_core import Cluster

def compact(schema: object) -> str:
    """A schema as the registry keeps it (canonical JSON, no spaces)."""
    return json.dumps(schema, separators=(",", ":"))


V1 = compact({"type": "record", "name": "Order", "fields": [{"name": "id", "type": "int"}]})
V2 = compact({"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "int"}, {"name": "note", "type": "string", "default": ""}]})
#: Adds a field without a default: old data cannot be read with it (not BACKWARD compatible).
BREAKING = compact({"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "int"}, {"name": "qty", "type": "int"}]})
REQUEST_HEADERS = {"Content-Type": SCHEMA_REGISTRY_MEDIA_TYPE}


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the registry app over the test's cluster."""
    transport = httpx.ASGITransport(app=schema_registry_app(cluster.schemas))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as http:
        yield http


async def register(client: httpx.AsyncClient, subject: str, schema: str) -> httpx.Response:
    return await client.post(f"/subjects/{subject}/versions", json={"schema": schema}, headers=REQUEST_HEADERS)


def assert_error(response: httpx.Response, status: int, code: int, words: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == code
    assert words in body["message"]


async def test_root_answers_an_empty_object_in_the_registry_media_type(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {}
    assert response.headers["content-type"] == SCHEMA_REGISTRY_MEDIA_TYPE


async def test_a_client_accepting_only_json_gets_application_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/subjects", headers={"Accept": "application/json"})
    assert response.headers["content-type"] == "application/json"


async def test_register_returns_the_global_id_and_is_idempotent(client: httpx.AsyncClient) -> None:
    first = await register(client, "orders-value", V1)
    assert first.status_code == 200
    assert first.json() == {"id": 1}
    assert (await register(client, "orders-value", V1)).json() == {"id": 1}
    # The same schema under another subject keeps its id.
    assert (await register(client, "returns-value", V1)).json() == {"id": 1}
    assert (await register(client, "orders-value", V2)).json() == {"id": 2}
    assert (await client.get("/subjects/orders-value/versions")).json() == [1, 2]


async def test_reading_subjects_versions_and_schemas(client: httpx.AsyncClient) -> None:
    await register(client, "orders-value", V1)
    await register(client, "orders-value", V2)
    await register(client, "payments-key", V1)
    assert (await client.get("/subjects")).json() == ["orders-value", "payments-key"]
    assert (await client.get("/subjects", params={"subjectPrefix": "pay"})).json() == ["payments-key"]
    version = (await client.get("/subjects/orders-value/versions/1")).json()
    assert version == {"subject": "orders-value", "version": 1, "id": 1, "schema": V1}
    assert (await client.get("/subjects/orders-value/versions/latest")).json()["version"] == 2
    assert (await client.get("/subjects/orders-value/versions/-1")).json()["id"] == 2
    raw = await client.get("/subjects/orders-value/versions/2/schema")
    assert json.loads(raw.text) == json.loads(V2)  # the schema itself, not a quoted string
    assert (await client.get("/subjects/orders-value/versions/2/referencedby")).json() == []
    assert (await client.get("/schemas/ids/2")).json() == {"schema": V2}
    assert json.loads((await client.get("/schemas/ids/1/schema")).text) == json.loads(V1)
    assert (await client.get("/schemas/ids/1/versions")).json() == [
        {"subject": "orders-value", "version": 1}, {"subject": "payments-key", "version": 1}]
    assert (await client.get("/schemas/ids/1/subjects")).json() == ["orders-value", "payments-key"]
    assert (await client.get("/schemas/types")).json() == ["AVRO"]


async def test_lookup_finds_the_version_holding_a_schema(client: httpx.AsyncClient) -> None:
    await register(client, "orders-value", V1)
    await register(client, "orders-value", V2)
    found = await client.post("/subjects/orders-value", json={"schema": V1}, headers=REQUEST_HEADERS)
    assert found.json() == {"subject": "orders-value", "version": 1, "id": 1, "schema": V1}
    missing = await client.post("/subjects/orders-value", json={"schema": BREAKING}, headers=REQUEST_HEADERS)
    assert_error(missing, 404, 40403, "Schema not found")
    no_subject = await client.post("/subjects/nothing-value", json={"schema": V1}, headers=REQUEST_HEADERS)
    assert_error(no_subject, 404, 40401, "Subject 'nothing-value' not found.")


async def test_an_incompatible_schema_is_refused_with_409_and_the_reason(client: httpx.AsyncClient) -> None:
    await register(client, "orders-value", V1)
    refused = await register(client, "orders-value", BREAKING)
    assert_error(refused, 409, 409, "incompatible with an earlier schema")
    assert "qty" in refused.json()["message"]
    assert (await client.get("/subjects/orders-value/versions")).json() == [1]


async def test_compatibility_check_answers_without_registering(client: httpx.AsyncClient) -> None:
    await register(client, "orders-value", V1)
    url = "/compatibility/subjects/orders-value/versions/latest"
    ok = await client.post(url, json={"schema": V2}, headers=REQUEST_HEADERS)
    assert ok.json() == {"is_compatible": True}
    bad = await client.post(url, params={"verbose": "True"}, json={"schema": BREAKING}, headers=REQUEST_HEADERS)
    assert bad.json()["is_compatible"] is False
    assert any("qty" in message for message in bad.json()["messages"])
    all_versions = await client.post("/compatibility/subjects/orders-value/versions", json={"schema": BREAKING},
                                     headers=REQUEST_HEADERS)
    assert all_versions.json() == {"is_compatible": False}
    missing = await client.post("/compatibility/subjects/orders-value/versions/7", json={"schema": V2},
                                headers=REQUEST_HEADERS)
    assert_error(missing, 404, 40402, "Version 7 not found.")
    assert (await client.get("/subjects/orders-value/versions")).json() == [1]


async def test_global_and_subject_compatibility_levels(client: httpx.AsyncClient) -> None:
    assert (await client.get("/config")).json() == {"compatibilityLevel": "BACKWARD"}
    put = await client.put("/config", json={"compatibility": "full"}, headers=REQUEST_HEADERS)
    assert put.json() == {"compatibility": "FULL"}
    assert (await client.get("/config")).json() == {"compatibilityLevel": "FULL"}
    assert_error(await client.get("/config/orders-value"), 404, 40408, "does not have subject-level compatibility")
    assert (await client.get("/config/orders-value", params={"defaultToGlobal": "true"})).json() == \
        {"compatibilityLevel": "FULL"}
    put = await client.put("/config/orders-value", json={"compatibility": "NONE"}, headers=REQUEST_HEADERS)
    assert put.json() == {"compatibility": "NONE"}
    # NONE lets the breaking change in for this subject alone.
    await register(client, "orders-value", V1)
    assert (await register(client, "orders-value", BREAKING)).json() == {"id": 2}
    assert (await client.delete("/config/orders-value")).json() == {"compatibilityLevel": "NONE"}
    assert_error(await client.delete("/config/orders-value"), 404, 40408)
    assert (await client.delete("/config")).json() == {"compatibilityLevel": "FULL"}
    assert (await client.get("/config")).json() == {"compatibilityLevel": "BACKWARD"}


async def test_an_unknown_compatibility_level_is_422_42203(client: httpx.AsyncClient) -> None:
    response = await client.put("/config", json={"compatibility": "SIDEWAYS"}, headers=REQUEST_HEADERS)
    assert_error(response, 422, 42203, "Invalid compatibility level")
    assert_error(await client.put("/config", json={}, headers=REQUEST_HEADERS), 422, 42203)


async def test_deleting_is_soft_first_then_permanent(client: httpx.AsyncClient) -> None:
    await register(client, "orders-value", V1)
    await register(client, "orders-value", V2)
    assert (await client.delete("/subjects/orders-value/versions/2")).json() == 2
    assert_error(await client.delete("/subjects/orders-value/versions/2"), 404, 40406, "was soft deleted")
    assert (await client.get("/subjects/orders-value/versions")).json() == [1]
    assert (await client.get("/subjects/orders-value/versions", params={"deleted": "true"})).json() == [1, 2]
    assert (await client.delete("/subjects/orders-value/versions/2", params={"permanent": "true"})).json() == 2
    assert_error(await client.delete("/subjects/orders-value", params={"permanent": "true"}), 404, 40405)
    assert (await client.delete("/subjects/orders-value")).json() == [1]
    assert_error(await client.delete("/subjects/orders-value"), 404, 40404, "was soft deleted")
    assert (await client.get("/subjects")).json() == []
    assert (await client.get("/subjects", params={"deleted": "true"})).json() == ["orders-value"]
    assert (await client.delete("/subjects/orders-value", params={"permanent": "true"})).json() == [1]
    assert_error(await client.get("/subjects/orders-value/versions"), 404, 40401)


async def test_missing_things_answer_confluents_codes(client: httpx.AsyncClient) -> None:
    await register(client, "orders-value", V1)
    assert_error(await client.get("/subjects/nothing/versions"), 404, 40401, "Subject 'nothing' not found.")
    assert_error(await client.get("/subjects/orders-value/versions/9"), 404, 40402, "Version 9 not found.")
    assert_error(await client.get("/subjects/orders-value/versions/first"), 422, 42202, "not a valid version")
    assert_error(await client.get("/schemas/ids/99"), 404, 40403, "Schema 99 not found")
    assert_error(await client.get("/schemas/ids/99/versions"), 404, 40403)
    assert_error(await client.get("/schemas/ids/one"), 404, 404, "HTTP 404 Not Found")


async def test_bad_schemas_are_422_42201(client: httpx.AsyncClient) -> None:
    not_avro = await register(client, "orders-value", json.dumps({"type": "record", "name": "X"}))
    assert_error(not_avro, 422, 42201)
    assert_error(await register(client, "orders-value", "{not json"), 422, 42201)
    no_schema = await client.post("/subjects/orders-value/versions", json={}, headers=REQUEST_HEADERS)
    assert_error(no_schema, 422, 42201, "no schema")
    protobuf = await client.post("/subjects/orders-value/versions", headers=REQUEST_HEADERS,
                                 json={"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"})
    assert_error(protobuf, 422, 42201, "PROTOBUF")
    references = await client.post("/subjects/orders-value/versions", headers=REQUEST_HEADERS, json={
        "schema": V1, "references": [{"name": "Other", "subject": "other-value", "version": 1}]})
    assert_error(references, 422, 42201, "references")


async def test_unknown_body_fields_are_ignored_as_confluent_clients_expect(client: httpx.AsyncClient) -> None:
    response = await client.post("/subjects/orders-value/versions", headers=REQUEST_HEADERS,
                                 json={"schema": V1, "schemaType": "AVRO", "references": [], "metadata": None})
    assert response.json() == {"id": 1}


async def test_malformed_and_misshapen_bodies_are_400(client: httpx.AsyncClient) -> None:
    malformed = await client.post("/subjects/orders-value/versions", content=b'{"schema": ', headers=REQUEST_HEADERS)
    assert_error(malformed, 400, 400, "Malformed JSON")
    array = await client.post("/subjects/orders-value/versions", content=b"[1]", headers=REQUEST_HEADERS)
    assert_error(array, 400, 400, "must be a JSON object, not an array")
    nested = await client.post("/subjects/orders-value/versions", json={"schema": {"type": "int"}},
                               headers=REQUEST_HEADERS)
    assert_error(nested, 400, 400, '"schema" must be a string')
    empty = await client.post("/subjects/orders-value/versions", content=b"", headers=REQUEST_HEADERS)
    assert_error(empty, 400, 400, "empty")


async def test_a_body_in_another_media_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post("/subjects/orders-value/versions", content=json.dumps({"schema": V1}),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 415, 415, "Unsupported Media Type")
    plain_json = await client.post("/subjects/orders-value/versions", content=json.dumps({"schema": V1}),
                                   headers={"Content-Type": "application/json; charset=utf-8"})
    assert plain_json.json() == {"id": 1}


async def test_unknown_paths_and_methods_answer_in_confluents_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/nothing/here"), 404, 404, "HTTP 404 Not Found")
    assert_error(await client.put("/subjects"), 405, 405, "HTTP 405 Method Not Allowed")
