"""Where ``jdbc:sqlite:`` databases may live: one directory, never a kplay data file.

Connectors are created through an unauthenticated REST API (as in Kafka Connect), and
the worker runs inside the broker's process with the data file at hand. So a connector's
SQLite file is confined to one directory:

* the directory is ``$KPLAY_JDBC_SQLITE_DIR`` if set, else the one the data file is in;
* a relative path is taken inside it; an absolute one must lead into it once symlinks
  and ``..`` are resolved;
* a kplay data file (this cluster's or another's) and SQLite's side files (``-wal``,
  ``-shm``, ``-journal``) are refused wherever they are;
* missing directories are created inside it only.

    directory = sqlite_directory(cluster.path)
    path = confined_sqlite_path("source.db", directory)     # <directory>/source.db
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

#: The environment variable naming the directory ``jdbc:sqlite:`` files are confined to.
SQLITE_DIR_ENV = "KPLAY_JDBC_SQLITE_DIR"
#: SQLite's files beside a database, which must never be opened as databases themselves.
SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")
#: Tables every kplay data file has, of every schema version (``broker_core.storage``'s schema).
_KPLAY_TABLES = {"meta", "brokers", "partitions"}


class SqlitePathRefused(ValueError):
    """A ``jdbc:sqlite:`` path outside the allowed directory, or naming a file kplay protects."""


def sqlite_directory(data_file: Path | str | None) -> Path:
    """The directory ``jdbc:sqlite:`` files are confined to for a cluster in ``data_file``."""
    configured = os.environ.get(SQLITE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    if data_file is not None:
        return Path(data_file).expanduser().resolve().parent
    return Path.cwd().resolve()


def confined_sqlite_path(path: str, directory: Path | None, *, confine: bool = True) -> Path:
    """The file ``path`` names, checked (``SqlitePathRefused`` naming the problem if not allowed).

    ``directory`` None: no confinement (library use); relative paths are from the current
    directory. ``confine=False``: relative paths are in ``directory``, absolute ones may be
    anywhere. Data files and side files are refused in every case.
    """
    given = Path(path).expanduser()
    root = directory.expanduser().resolve() if directory is not None else None
    if not given.is_absolute():
        given = (root or Path.cwd()) / given
    file = given.resolve()  # symlinks and ".." resolved, as the open will follow them
    if root is not None and confine and not file.is_relative_to(root):
        raise SqlitePathRefused(
            f"connection.url jdbc:sqlite:{path} is outside {root}, the directory SQLite databases of "
            f"connectors must be in (set {SQLITE_DIR_ENV} to use another directory)")
    if file.name.endswith(SIDE_FILE_SUFFIXES):
        raise SqlitePathRefused(f"connection.url jdbc:sqlite:{path} names one of SQLite's own side files "
                                "(-wal, -shm, -journal), not a database")
    if file.exists():
        if not file.is_file():
            raise SqlitePathRefused(f"connection.url jdbc:sqlite:{path} is not a regular file")
        try:
            protected = is_kplay_data_file(file)
        except sqlite3.Error as exc:
            raise SqlitePathRefused(f"connection.url jdbc:sqlite:{path} cannot be read as an SQLite database "
                                    f"({exc})") from None
        if protected:
            raise SqlitePathRefused(f"connection.url jdbc:sqlite:{path} is a kplay data file; connectors may "
                                    "not read or write a cluster's own storage")
    return file


def make_parent_directories(file: Path, directory: Path | None) -> None:
    """Create ``file``'s missing parent directories, inside ``directory`` only (none when None)."""
    if directory is None or file.parent.exists():
        return
    root = directory.expanduser().resolve()
    if root.is_dir() and file.parent.resolve().is_relative_to(root):
        file.parent.mkdir(parents=True, exist_ok=True)


def is_kplay_data_file(file: Path) -> bool:
    """Whether ``file`` is an SQLite database holding kplay's tables (read without changing it).

    Read through SQLite only: opening and closing the file any other way would drop the
    POSIX locks this process's own SQLite connections hold on it. Raises ``sqlite3.Error``
    if it is an SQLite file whose schema cannot be read (it is then not known to be safe).
    """
    conn = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            return False  # not SQLite at all: the connector's own open reports it
        raise
    finally:
        conn.close()
    return _KPLAY_TABLES <= names
