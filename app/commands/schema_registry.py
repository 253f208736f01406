"""``kplay schema-registry``: the Schema Registry from the command line.

    kplay schema-registry --subjects
    kplay schema-registry --versions users-value
    kplay schema-registry --get users-value latest
    kplay schema-registry --register users-value user.avsc
    kplay schema-registry --check users-value user-v2.avsc
    kplay schema-registry --compatibility users-value FULL
    kplay schema-registry --delete users-value [--version 2] [--permanent]

Piped, the output is plain: one subject or version per line, and ``--get`` prints the
body Confluent's REST API answers (``{"subject", "version", "id", "schema"}``) on one
line for ``jq``. On a terminal, tables and an indented schema. Refusals are one line with
Confluent's error code (``Subject 'x' not found.; error code: 40401``) and exit status 1;
``--check`` prints the reasons and exits 1 when the schema is incompatible.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from app.backends import Backend
from app.backends.schema_registry_client import RemoteSchemaRegistry
from broker_core.schema_registry import SchemaRegistry
from broker_core.schema_registry_errors import IncompatibleSchema, SchemaRegistryError
from widgets.safe_text import printable

from .invocation import (ClusterOption, DataOption, UsageProblem, YesOption, confirm_destructive, one_line_errors,
                         run_on_backend)
from .output import print_heading, print_lines, print_table, stdout_is_terminal

ACTIONS = ("subjects", "versions", "get", "id", "register", "check", "compatibility", "delete")
#: The subject name that means "the global level" for --compatibility (Confluent's own key for it).
GLOBAL_SUBJECT = "__GLOBAL"
#: The actions that write to the registry (refused on a read-only cluster profile).
WRITES = ("register", "compatibility", "delete")
Registry = SchemaRegistry | RemoteSchemaRegistry
#: Longest line of a schema drawn on a terminal.
LINE_LIMIT = 2000


def schema_registry(
    ctx: typer.Context,
    subjects: Annotated[bool, typer.Option("--subjects", help="List the subjects.")] = False,
    versions: Annotated[Optional[str], typer.Option(
        "--versions", metavar="SUBJECT", help="List a subject's versions.")] = None,
    get: Annotated[Optional[tuple[str, str]], typer.Option(
        "--get", metavar="SUBJECT VERSION", help='Show one version (a number or "latest").')] = None,
    schema_id: Annotated[Optional[int], typer.Option(
        "--id", metavar="ID", help="Show the schema with this global id.")] = None,
    register: Annotated[Optional[tuple[str, Path]], typer.Option(
        "--register", metavar="SUBJECT FILE.avsc", help="Register the schema in FILE under SUBJECT.")] = None,
    check: Annotated[Optional[tuple[str, Path]], typer.Option(
        "--check", metavar="SUBJECT FILE.avsc",
        help="Test whether SUBJECT would accept the schema in FILE (registers nothing).")] = None,
    compatibility: Annotated[Optional[tuple[str, str]], typer.Option(
        "--compatibility", metavar="SUBJECT LEVEL",
        help=f"Set SUBJECT's compatibility level ({GLOBAL_SUBJECT} for the global level): BACKWARD, "
             "BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE.")] = None,
    delete: Annotated[Optional[str], typer.Option(
        "--delete", metavar="SUBJECT", help="Delete a subject (soft; --permanent after that).")] = None,
    version: Annotated[Optional[str], typer.Option(
        "--version", metavar="VERSION", help="With --delete: only this version.")] = None,
    permanent: Annotated[bool, typer.Option(
        "--permanent", help="With --delete: delete for good (after a soft delete).")] = False,
    deleted: Annotated[bool, typer.Option(
        "--deleted", help="With --subjects or --versions: include soft-deleted ones.")] = False,
    data: DataOption = None,
    cluster: ClusterOption = None,
    yes: YesOption = False,
) -> None:
    """Register, list, check and configure schemas (Confluent's Schema Registry; with --cluster, the
    profile's schema.registry.url)."""
    chosen = {"subjects": subjects, "versions": versions is not None, "get": get is not None,
              "id": schema_id is not None, "register": register is not None, "check": check is not None,
              "compatibility": compatibility is not None, "delete": delete is not None}
    with one_line_errors("Error: "):
        actions = [name for name in ACTIONS if chosen[name]]
        if len(actions) != 1:
            raise UsageProblem("Command must include exactly one action: --subjects, --versions, --get, --id, "
                               "--register, --check, --compatibility or --delete")
        action = actions[0]
        if (version is not None or permanent) and action != "delete":
            raise UsageProblem("Options --version and --permanent go with --delete")
        if deleted and action not in ("subjects", "versions"):
            raise UsageProblem("Option --deleted goes with --subjects or --versions")

        async def tool(backend: Backend) -> int:
            registry = backend.schema_registry()
            if action in WRITES:
                backend.check_writable(f"change the Schema Registry ({action})")
            if action == "delete":
                assert delete is not None
                confirm_destructive(backend, f"delete subject '{delete}'" + (f" version {version}" if version else ""),
                                    delete, yes=yes)
            try:
                return await _run(registry, action, versions=versions, get=get, schema_id=schema_id,
                                  register=register, check=check, compatibility=compatibility,
                                  delete=delete, version=version, permanent=permanent, deleted=deleted)
            except IncompatibleSchema as error:
                raise UsageProblem(
                    f"Error: Schema being registered is incompatible with version {error.old_version} of "
                    f"subject \"{error.subject}\" ({error.compatibility}): {'; '.join(error.reasons)}; "
                    f"error code: {error.code}") from None
            except SchemaRegistryError as error:
                raise UsageProblem(f"Error: {error}; error code: {error.code}") from None

        code = run_on_backend(ctx, data, cluster, tool)
    if code:
        raise typer.Exit(code)


async def _run(registry: Registry, action: str, *, versions: Optional[str],
               get: Optional[tuple[str, str]], schema_id: Optional[int],
               register: Optional[tuple[str, Path]], check: Optional[tuple[str, Path]],
               compatibility: Optional[tuple[str, str]], delete: Optional[str], version: Optional[str],
               permanent: bool, deleted: bool) -> int:
    """Carry out one action; return the exit status (1 only for an incompatible --check)."""
    terminal = stdout_is_terminal()
    if action == "subjects":
        await list_subjects(registry, deleted, terminal)
    elif action == "versions":
        assert versions is not None
        await list_versions(registry, versions, deleted, terminal)
    elif action == "get":
        assert get is not None
        found = await registry.get_version(get[0], get[1])
        show_schema(found.as_dict(), f"{found.subject} version {found.version} (id {found.schema_id})",
                    found.schema, terminal)
    elif action == "id":
        assert schema_id is not None
        by_id = await registry.get_schema(schema_id)
        show_schema(by_id.as_dict(), f"Schema id {schema_id}", by_id.schema, terminal)
    elif action == "register":
        assert register is not None
        subject, path = register
        text = read_schema_file(path)
        before = await _versions_or_none(registry, subject)
        new_id = await registry.register_schema(subject, text)
        registered = await registry.lookup_schema(subject, text)
        if before is not None and registered.version in before:
            print_lines([f"Schema already registered as version {registered.version} of subject "
                         f"'{_shown(subject)}' with id {new_id}."])
        else:
            print_lines([f"Registered schema id {new_id} as version {registered.version} of subject "
                         f"'{_shown(subject)}'."])
    elif action == "check":
        assert check is not None
        subject, path = check
        report = await registry.test_compatibility(subject, read_schema_file(path), version=None)
        if report.is_compatible:
            print_lines([f"Compatible: subject '{_shown(subject)}' would accept this schema "
                         f"({report.compatibility})."])
            return 0
        against = f"version {report.old_version} of " if report.old_version is not None else ""
        print_lines([f"Incompatible with {against}subject '{_shown(subject)}' "
                     f"({report.compatibility}):", *(f"  {reason}" for reason in report.reasons)])
        return 1
    elif action == "compatibility":
        assert compatibility is not None
        subject, level = compatibility
        if subject == GLOBAL_SUBJECT:
            print_lines([f"Global compatibility level set to {await registry.set_compatibility(level)}."])
        else:
            set_to = await registry.set_compatibility(level, subject)
            print_lines([f"Compatibility level of subject '{_shown(subject)}' set to {set_to}."])
    elif action == "delete":
        assert delete is not None
        kind = "Permanently deleted" if permanent else "Soft-deleted"
        if version is not None:
            number = await registry.delete_version(delete, version, permanent)
            print_lines([f"{kind} version {number} of subject '{_shown(delete)}'."])
        else:
            numbers = await registry.delete_subject(delete, permanent)
            print_lines([f"{kind} subject '{_shown(delete)}' (versions {', '.join(map(str, numbers))})."])
    return 0


async def list_subjects(registry: Registry, deleted: bool, terminal: bool) -> None:
    """``--subjects``: one per line; on a terminal a table with versions, latest id and level."""
    if not terminal:
        print_lines(await registry.get_subjects(deleted=deleted))
        return
    summaries = await registry.describe_subjects(deleted=deleted)
    print_heading(f"Global compatibility level: {await registry.get_compatibility()}")
    rows = []
    for summary in summaries:
        latest = summary.latest
        rows.append([printable(summary.subject), ",".join(str(version) for version, _ in summary.versions),
                     "-" if latest is None else f"{latest[0]} (id {latest[1]})", summary.level or "(global)"])
    if rows:
        print_table(["Subject", "Versions", "Latest", "Compatibility"], rows)
    else:
        print_lines(["No subjects yet: register a schema with --register SUBJECT FILE.avsc."])


async def list_versions(registry: Registry, subject: str, deleted: bool, terminal: bool) -> None:
    """``--versions``: one number per line; on a terminal with each version's id."""
    numbers = await registry.get_versions(subject, deleted=deleted)
    if not terminal:
        print_lines([str(n) for n in numbers])
        return
    rows = []
    for number in numbers:
        found = await registry.get_version(subject, number, deleted=True)
        rows.append([str(number), str(found.schema_id), "deleted" if found.deleted else ""])
    print_table(["Version", "Id", ""], rows, title=f"Subject {printable(subject)}")


def show_schema(body: dict[str, object], heading: str, schema: str, terminal: bool) -> None:
    """Piped: Confluent's response body on one line. Terminal: a heading and the schema indented."""
    if not terminal:
        print_lines([json.dumps(body, ensure_ascii=False)])
        return
    print_heading(printable(heading, LINE_LIMIT))
    pretty = json.dumps(json.loads(schema), indent=2, ensure_ascii=False)
    print_lines([printable(line, LINE_LIMIT) for line in pretty.splitlines()])


def read_schema_file(path: Path) -> str:
    """The text of a schema file; a file that is not UTF-8 text is refused in one line."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageProblem(f"Error: {path} is not a UTF-8 text file (an .avsc file is JSON text)") from None
    except IsADirectoryError:
        raise UsageProblem(f"Error: {path} is a directory, not a schema file") from None


async def _versions_or_none(registry: Registry, subject: str) -> list[int] | None:
    try:
        return await registry.get_versions(subject)
    except SchemaRegistryError:
        return None


def _shown(name: str) -> str:
    # A subject is the user's text: on a terminal it must not carry escapes.
    return printable(name, 250)


def register(app: typer.Typer) -> None:
    """Add ``kplay schema-registry`` to the app."""
    app.command("schema-registry")(schema_registry)
