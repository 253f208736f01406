"""The Schema Registry's errors, with Confluent's error codes and HTTP statuses.

Confluent's Schema Registry answers a failed request with an HTTP status and a body
``{"error_code": 40401, "message": "Subject 'orders-value' not found."}``. These classes
carry both (``code`` is the ``error_code``, ``http_status`` the status) and Confluent's
wording, so a learner meets the same numbers here as from a real registry, and a REST
front can answer exactly as Confluent's does. They are ``KafkaError``s, so every front
that already turns a ``KafkaError`` into one clear line handles them too.
"""

from __future__ import annotations

from typing import Sequence

from .errors import KafkaError


class SchemaRegistryError(KafkaError):
    """Base of the Schema Registry's errors (Confluent's 50001 "error in the backend store")."""

    name, code = "SCHEMA_REGISTRY_ERROR", 50001
    http_status: int = 500

    @property
    def error_code(self) -> int:
        """Confluent's ``error_code`` (the same number as ``code``)."""
        return self.code


class SubjectNotFound(SchemaRegistryError):
    """The subject has no (live) version."""

    name, code, http_status = "SUBJECT_NOT_FOUND", 40401, 404

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' not found.")


class VersionNotFound(SchemaRegistryError):
    """The subject has no such (live) version."""

    name, code, http_status = "VERSION_NOT_FOUND", 40402, 404

    def __init__(self, version: int | str) -> None:
        super().__init__(f"Version {version} not found.")


class SchemaNotFound(SchemaRegistryError):
    """No schema has this id, or the schema is not registered under the subject."""

    name, code, http_status = "SCHEMA_NOT_FOUND", 40403, 404

    def __init__(self, schema_id: int | None = None) -> None:
        super().__init__("Schema not found" if schema_id is None else f"Schema {schema_id} not found")


class SubjectSoftDeleted(SchemaRegistryError):
    """The subject is already soft-deleted; only a permanent delete is left."""

    name, code, http_status = "SUBJECT_SOFT_DELETED", 40404, 404

    def __init__(self, subject: str) -> None:
        # Confluent's message has no space after the full stop; kept as it is.
        super().__init__(f"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently")


class SubjectNotSoftDeleted(SchemaRegistryError):
    """A permanent delete of a subject that was not soft-deleted first."""

    name, code, http_status = "SUBJECT_NOT_SOFT_DELETED", 40405, 404

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' was not deleted first before being permanently deleted")


class VersionSoftDeleted(SchemaRegistryError):
    """The version is already soft-deleted; only a permanent delete is left."""

    name, code, http_status = "SCHEMA_VERSION_SOFT_DELETED", 40406, 404

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(f"Subject '{subject}' Version {version} was soft deleted."
                         "Set permanent=true to delete permanently")


class VersionNotSoftDeleted(SchemaRegistryError):
    """A permanent delete of a version that was not soft-deleted first."""

    name, code, http_status = "SCHEMA_VERSION_NOT_SOFT_DELETED", 40407, 404

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(f"Subject '{subject}' Version {version} was not deleted first "
                         "before being permanently deleted")


class SubjectCompatibilityNotConfigured(SchemaRegistryError):
    """The subject has no compatibility level of its own (it follows the global one)."""

    name, code, http_status = "SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED", 40408, 404

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' does not have subject-level compatibility configured")


class IncompatibleSchema(SchemaRegistryError):
    """The schema breaks the subject's compatibility level (HTTP 409, error code 409).

    ``message`` is Confluent's whole message (with its ``details: [...]`` list);
    ``reasons`` are the plain descriptions of what is incompatible, ``old_version`` the
    version it was checked against and ``compatibility`` the level that refused it.
    """

    name, code, http_status = "INCOMPATIBLE_SCHEMA", 409, 409

    def __init__(self, subject: str, messages: Sequence[str], reasons: Sequence[str],
                 old_version: int, compatibility: str) -> None:
        super().__init__(f'Schema being registered is incompatible with an earlier schema for subject '
                         f'"{subject}", details: [{", ".join(messages)}]')
        self.subject = subject
        self.messages = list(messages)
        self.reasons = list(reasons)
        self.old_version = old_version
        self.compatibility = compatibility


class InvalidSchema(SchemaRegistryError):
    """The schema text is not a valid schema (not JSON, or not valid Avro)."""

    name, code, http_status = "INVALID_SCHEMA", 42201, 422


class InvalidVersion(SchemaRegistryError):
    """A version that is neither 1..2^31-1 nor "latest"."""

    name, code, http_status = "INVALID_VERSION", 42202, 422

    def __init__(self, version: object) -> None:
        super().__init__(f"The specified version '{version}' is not a valid version id. "
                         'Allowed values are between [1, 2^31-1] and the string "latest"')


class InvalidCompatibilityLevel(SchemaRegistryError):
    """A compatibility level that is not one of the seven."""

    name, code, http_status = "INVALID_COMPATIBILITY_LEVEL", 42203, 422

    def __init__(self, level: object = None) -> None:
        super().__init__("Invalid compatibility level. Valid values are none, backward, forward, full, "
                         "backward_transitive, forward_transitive, and full_transitive")
        self.level = level


class InvalidSubject(SchemaRegistryError):
    """A subject name that is empty or holds control characters."""

    name, code, http_status = "INVALID_SUBJECT", 42208, 422

    def __init__(self, subject: str) -> None:
        super().__init__(f"The specified subject {subject!r} is not valid: a subject is a non-empty "
                         "name without control characters")


SCHEMA_REGISTRY_ERRORS: tuple[type[SchemaRegistryError], ...] = (
    SchemaRegistryError, SubjectNotFound, VersionNotFound, SchemaNotFound, SubjectSoftDeleted,
    SubjectNotSoftDeleted, VersionSoftDeleted, VersionNotSoftDeleted,
    SubjectCompatibilityNotConfigured, IncompatibleSchema, InvalidSchema, InvalidVersion,
    InvalidCompatibilityLevel, InvalidSubject,
)


class InvalidMode(SchemaRegistryError):
    """An unknown or unsupported ``/mode`` value (Confluent's 42204)."""

    name, code, http_status = "INVALID_MODE", 42204, 422


class OperationNotPermitted(SchemaRegistryError):
    """A write to a subject in READONLY mode (Confluent's 42205)."""

    name, code, http_status = "OPERATION_NOT_PERMITTED", 42205, 422


class SubjectModeNotFound(SchemaRegistryError):
    """A subject without a mode of its own (Confluent's 40409)."""

    name, code, http_status = "SUBJECT_LEVEL_MODE_NOT_CONFIGURED", 40409, 404

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' does not have subject-level mode configured")
