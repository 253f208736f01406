"""Authentication on ``kplay serve``: SASL on the Kafka listeners, HTTP basic auth on the REST APIs.

With users, a client must authenticate with SASL PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
before any request but ApiVersions (as Kafka's SASL_PLAINTEXT listener), and a wrong
password gets SASL_AUTHENTICATION_FAILED with Kafka's words; the Schema Registry and
Connect answer 401 without the right basic credentials. Real clients (confluent-kafka,
kafka-python, httpx) check both sides; SCRAM is also checked against RFC 7677's example.
"""

from __future__ import annotations

import base64
import struct
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from kafka.protocol.metadata import ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse
from kafka.protocol.sasl import SaslHandshakeRequest, SaslHandshakeResponse

from app.serve.credentials import Credentials, ScramCredential, scram_credential
from app.serve.sasl import SaslAuthenticationFailed, ScramServer
from test_serve_support import HOST, ServedCluster, kcat_path, raw_connection, read_frame

USERS = {"alice": "alice-secret", "bob": "b:o=b,"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCluster]:
    cluster = ServedCluster(Path(tmp_path_factory.mktemp("serve-auth")) / "cluster.db",
                            credentials=Credentials(USERS)).start()
    try:
        cluster.create_topic("secured")
        yield cluster
    finally:
        cluster.stop()


def confluent_produce(bootstrap: str, mechanism: str, user: str, password: str) -> tuple[list[Any], list[Any]]:
    """(delivery results, client errors) of one record produced with SASL credentials."""
    from confluent_kafka import Producer

    errors: list[Any] = []
    producer = Producer({"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
                         "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password,
                         "message.timeout.ms": 10_000, "error_cb": errors.append})
    results: list[Any] = []
    producer.produce("secured", b"value", on_delivery=lambda error, message: results.append(
        error if error is not None else message.offset()))
    deadline = time.monotonic() + 15
    while not results and not errors and time.monotonic() < deadline:
        producer.poll(0.1)
    return results, errors


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_confluent_kafka_authenticates_with_the_right_password(secured: ServedCluster, mechanism: str) -> None:
    results, errors = confluent_produce(secured.bootstrap, mechanism, "bob", USERS["bob"])
    assert not errors
    assert len(results) == 1 and isinstance(results[0], int)


@pytest.mark.parametrize("mechanism,words", [
    ("PLAIN", "Authentication failed: Invalid username or password"),
    ("SCRAM-SHA-256", "Authentication failed during authentication due to invalid credentials with SASL "
                      "mechanism SCRAM-SHA-256")])
def test_a_wrong_password_is_sasl_authentication_failed(secured: ServedCluster, mechanism: str, words: str) -> None:
    from confluent_kafka import KafkaError

    results, errors = confluent_produce(secured.bootstrap, mechanism, "alice", "not-her-password")
    assert not results
    assert errors and errors[0].code() == KafkaError._AUTHENTICATION
    assert words in errors[0].str()


def test_kafka_python_authenticates_with_scram_sha_512(secured: ServedCluster) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=secured.bootstrap, security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="alice",
                             sasl_plain_password=USERS["alice"], max_block_ms=15_000)
    try:
        assert producer.send("secured", b"scram").get(timeout=15).topic == "secured"
    finally:
        producer.close(timeout=5)


def call(sock: Any, request_class: Any, response_class: Any, version: int, correlation: int, **fields: Any) -> Any:
    request = request_class(version=version, **fields)
    request.with_header(correlation_id=correlation, client_id="auth-test")
    sock.sendall(request.encode(header=True, framed=True))
    frame = read_frame(sock)
    assert frame is not None, "the server closed the connection"
    return response_class.decode(frame, version=version, header=True)


def closed(sock: Any) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def metadata_request() -> dict[str, Any]:
    return dict(topics=None, allow_auto_topic_creation=False, include_cluster_authorized_operations=False,
                include_topic_authorized_operations=False)


def test_before_authenticating_only_api_versions_is_answered(secured: ServedCluster) -> None:
    sock = raw_connection(secured)
    try:
        versions = call(sock, ApiVersionsRequest, ApiVersionsResponse, 3, 1, client_software_name="auth-test",
                        client_software_version="1")
        assert versions.error_code == 0
        request = MetadataRequest(version=8, **metadata_request())
        request.with_header(correlation_id=2, client_id="auth-test")
        sock.sendall(request.encode(header=True, framed=True))
        assert closed(sock)
    finally:
        sock.close()


def test_an_unknown_mechanism_is_refused_with_the_enabled_ones(secured: ServedCluster) -> None:
    sock = raw_connection(secured)
    try:
        response = call(sock, SaslHandshakeRequest, SaslHandshakeResponse, 1, 1, mechanism="GSSAPI")
        assert response.error_code == 33  # UNSUPPORTED_SASL_MECHANISM
        assert response.mechanisms == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
        assert closed(sock)
    finally:
        sock.close()


def test_sasl_handshake_v0_takes_raw_tokens(secured: ServedCluster) -> None:
    sock = raw_connection(secured)
    try:
        assert call(sock, SaslHandshakeRequest, SaslHandshakeResponse, 0, 1, mechanism="PLAIN").error_code == 0
        # With SaslHandshake v0 the token travels bare, size-prefixed, and so does the answer.
        token = b"\0alice\0" + USERS["alice"].encode()
        sock.sendall(struct.pack(">i", len(token)) + token)
        assert read_frame(sock) == b""
        metadata = call(sock, MetadataRequest, MetadataResponse, 8, 2, **metadata_request())
        assert "secured" in {topic.name for topic in metadata.topics}
    finally:
        sock.close()


def test_an_open_listener_answers_sasl_handshake_illegal_sasl_state(tmp_path: Path) -> None:
    open_cluster = ServedCluster(tmp_path / "open.db").start()
    try:
        sock = raw_connection(open_cluster)
        try:
            response = call(sock, SaslHandshakeRequest, SaslHandshakeResponse, 1, 1, mechanism="PLAIN")
            assert response.error_code == 34  # ILLEGAL_SASL_STATE, as Kafka on a PLAINTEXT listener
        finally:
            sock.close()
    finally:
        open_cluster.stop()


class _VectorCredentials:
    """RFC 7677's example user: "user", password "pencil", its salt and 4096 iterations."""

    def scram(self, mechanism: str, name: str) -> ScramCredential | None:
        if name != "user":
            return None
        return scram_credential("pencil", "sha256", base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096)


def test_scram_sha_256_matches_rfc_7677(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.serve.sasl.secrets.token_urlsafe", lambda _: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
    server = ScramServer("SCRAM-SHA-256", _VectorCredentials())  # type: ignore[arg-type]
    first = server.evaluate(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
    assert first == b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    final = server.evaluate(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                            b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert final == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    assert server.complete and server.username == "user"


def test_scram_refuses_a_wrong_proof() -> None:
    server = ScramServer("SCRAM-SHA-256", _VectorCredentials())  # type: ignore[arg-type]
    first = server.evaluate(b"n,,n=user,r=abc").decode()
    nonce = first.split(",")[0].removeprefix("r=")
    with pytest.raises(SaslAuthenticationFailed):
        server.evaluate(f"c=biws,r={nonce},p={base64.b64encode(bytes(32)).decode()}".encode())
    assert not server.complete


# -- REST ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rest(secured: ServedCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from app.serve.rest import start_rest

    servers = secured.call(start_rest(secured.core, host=HOST, schema_registry_port=0, connect_port=0,
                                      base_dir=tmp_path_factory.mktemp("rest-auth"), credentials=Credentials(USERS)))
    try:
        yield servers
    finally:
        secured.call(servers.stop())


@pytest.mark.parametrize("api,path", [("schema_registry_url", "/subjects"), ("connect_url", "/connectors")])
def test_rest_apis_require_basic_auth(rest: Any, api: str, path: str) -> None:
    url = getattr(rest, api) + path
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert anonymous.json() == {"error_code": 401, "message": "Unauthorized"}
    assert httpx.get(url, auth=("alice", "wrong")).status_code == 401
    assert httpx.get(url, auth=("nobody", USERS["alice"])).status_code == 401
    allowed = httpx.get(url, auth=("bob", USERS["bob"]))  # a password with ':' '=' ','
    assert allowed.status_code == 200
    assert allowed.json() == []


@pytest.mark.skipif(kcat_path() is None, reason="kcat is not installed")
def test_kcat_authenticates_with_scram(secured: ServedCluster) -> None:
    # kcat's librdkafka (2.0 here) repeats its nonce in the final SCRAM message; Kafka accepts that.
    listing = subprocess.run([str(kcat_path()), "-b", secured.bootstrap, "-X", "security.protocol=SASL_PLAINTEXT",
                              "-X", "sasl.mechanism=SCRAM-SHA-256", "-X", "sasl.username=alice",
                              "-X", f"sasl.password={USERS['alice']}", "-L", "-t", "secured"],
                             capture_output=True, text=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert 'topic "secured" with 1 partitions' in listing.stdout
