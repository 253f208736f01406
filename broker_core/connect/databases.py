"""Databases behind ``connection.url``: JDBC URLs as Kafka users write them, opened with SQLAlchemy.

Accepted forms:

* ``jdbc:sqlite:PATH`` (``jdbc:sqlite::memory:`` too), a bare file path, or ``sqlite:///PATH``:
  an SQLite file, created on first use, confined to ``base_dir`` (see ``sqlite_files``:
  a relative path is taken inside it, an absolute one must lead into it, kplay's own
  data files are refused).
* ``jdbc:postgresql://host:port/db?user=..&password=..``, ``jdbc:postgresql://host/db`` and
  ``jdbc:postgresql:db``: PostgreSQL through psycopg 3.
* any other SQLAlchemy URL (``postgresql://user@host/db`` is given the psycopg driver).

``connection.user`` and ``connection.password`` override what the URL carries.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy.engine import URL, Engine

from .sqlite_files import SqlitePathRefused, confined_sqlite_path, make_parent_directories

#: JDBC URL parameters with a libpq equivalent; others are JDBC-only and left out.
_PG_PARAMETERS = {"sslmode": "sslmode", "connectTimeout": "connect_timeout", "connect_timeout": "connect_timeout",
                  "ApplicationName": "application_name", "application_name": "application_name"}
#: Seconds a PostgreSQL connection attempt may take before it counts as failed.
PG_CONNECT_TIMEOUT_S = 10
#: Seconds an SQLite statement waits for another process's write lock.
SQLITE_BUSY_TIMEOUT_S = 30


class ConnectionUrlError(ValueError):
    """A ``connection.url`` kplay cannot read."""


def sqlalchemy_url(connection_url: str, user: str = "", password: str = "",
                   base_dir: Path | None = None, *, confine: bool = True) -> URL:
    """The SQLAlchemy URL for ``connection_url`` (see the module docstring for the forms)."""
    text = connection_url.strip()
    if not text:
        raise ConnectionUrlError("connection.url is empty")
    if text.startswith("jdbc:"):
        url = _from_jdbc(text[len("jdbc:"):], base_dir, confine)
    elif "://" not in text and not text.startswith(("sqlite:", "postgresql:", "postgres:")):
        url = _sqlite_url(text, base_dir, confine)
    else:
        try:
            url = sqlalchemy.make_url(text)
        except sqlalchemy.exc.ArgumentError as exc:
            raise ConnectionUrlError(f"connection.url {text!r} is not a database URL ({exc})") from None
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        elif url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
            url = _sqlite_url(url.database, base_dir, confine)
    if user:
        url = url.set(username=user)
    if password:
        url = url.set(password=password)
    return url


def _from_jdbc(rest: str, base_dir: Path | None, confine: bool) -> URL:
    sub, _, tail = rest.partition(":")
    if sub == "sqlite":
        if tail.startswith("file:"):
            tail = urllib.parse.unquote(tail[len("file:"):].split("?", 1)[0])
        return _sqlite_url(tail, base_dir, confine)
    if sub == "postgresql":
        return _postgres_url(tail)
    raise ConnectionUrlError(
        f"connection.url jdbc:{sub}: is not supported by kplay (use jdbc:sqlite:PATH or "
        "jdbc:postgresql://host:port/db)")


def _sqlite_url(path: str, base_dir: Path | None, confine: bool) -> URL:
    if not path:
        raise ConnectionUrlError("connection.url names no SQLite file (expected jdbc:sqlite:PATH)")
    if path == ":memory:":
        return URL.create("sqlite", database=":memory:")
    try:
        file = confined_sqlite_path(path, base_dir, confine=confine)
    except SqlitePathRefused as exc:
        raise ConnectionUrlError(str(exc)) from None
    return URL.create("sqlite", database=str(file))


def _postgres_url(tail: str) -> URL:
    # jdbc:postgresql://host[:port]/db[?params], jdbc:postgresql:db, jdbc:postgresql:/
    host, port, database = "localhost", 5432, ""
    query: dict[str, list[str]] = {}
    if "?" in tail:
        tail, _, params = tail.partition("?")
        query = urllib.parse.parse_qs(params, keep_blank_values=True)
    if tail.startswith("//"):
        authority, _, database = tail[2:].partition("/")
        if "," in authority:
            raise ConnectionUrlError("connection.url with several PostgreSQL hosts is not supported by kplay")
        if authority:
            parsed = urllib.parse.urlsplit("//" + authority)
            host = parsed.hostname or "localhost"
            try:
                port = parsed.port or 5432
            except ValueError:
                raise ConnectionUrlError(f"connection.url has a bad port: {authority}") from None
    else:
        database = tail.lstrip("/")
    user = query.pop("user", [""])[0]
    password = query.pop("password", [""])[0]
    options: dict[str, str] = {}
    for name, values in query.items():
        if name in _PG_PARAMETERS:
            options[_PG_PARAMETERS[name]] = values[-1]
        elif name == "currentSchema":
            options["options"] = f"-csearch_path={values[-1]}"
    return URL.create("postgresql+psycopg", username=user or None, password=password or None, host=host,
                      port=port, database=urllib.parse.unquote(database) or None, query=options)


def open_engine(connection_url: str, user: str = "", password: str = "",
                base_dir: Path | None = None, *, confine: bool = True) -> Engine:
    """An SQLAlchemy engine for ``connection_url`` (no connection is made yet).

    SQLite files are opened in WAL mode with a busy timeout, so the generator, a source
    connector and a reader in other processes can use one file at once. ``base_dir``: the
    directory SQLite files are confined to (None: no confinement, relative paths from the
    current directory, and no missing directories created).
    """
    url = sqlalchemy_url(connection_url, user, password, base_dir, confine=confine)
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
        if url.database and url.database != ":memory:":
            make_parent_directories(Path(url.database), base_dir if confine else None)
    elif url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    try:
        engine = sqlalchemy.create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError) as exc:
        raise ConnectionUrlError(f"connection.url {display_url(url)}: {exc}") from None
    if url.get_backend_name() == "sqlite":
        sqlalchemy.event.listen(engine, "connect", _sqlite_settings)
    return engine


def _sqlite_settings(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def display_url(url: URL | str) -> str:
    """A URL fit to show: the password hidden."""
    if isinstance(url, str):
        return url
    return url.render_as_string(hide_password=True)


def split_table_name(name: str) -> tuple[str | None, str]:
    """``schema.table`` -> (schema, table); ``table`` -> (None, table)."""
    schema, dot, table = name.strip().rpartition(".")
    return (schema or None) if dot else None, table
