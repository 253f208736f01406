"""One run of a tool: which cluster it opens, its event loop, and its failures as one line.

A tool runs on a ``Backend``: the data file (``--data``, ``KPLAY_DATA`` or the default), or a
real cluster that ``--cluster`` or ``KPLAY_CLUSTER`` names (``app.cluster_profiles``).
Every tool body runs inside ``one_line_errors``: a refused flag (``UsageProblem``), a
Kafka error from the core or the cluster, an unusable data file, a cluster that cannot be
reached or an OS error becomes a single line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Awaitable, Callable, Iterator, Optional, Sequence, TypeVar

import typer

from broker_core import Cluster
from broker_core.errors import KafkaError, StorageError

from app.backends import Backend, ClusterUnreachable, EmbeddedBackend, ReadOnlyCluster, Unsupported
from app.cluster_profiles import ClusterChoiceProblem, chosen_cluster, open_chosen, resolve_cluster
from app.data_location import resolve_data_path

from .output import print_error, print_lines

T = TypeVar("T")


class UsageProblem(Exception):
    """A flag, a combination of flags or a value the tool refuses; the text is Kafka's."""


class ToolFailure(Exception):
    """A failure while the command runs that Kafka's tool reports as it reports a broker error
    (for example kafka-consumer-groups' ``java.text.ParseException: Unparseable date``)."""


def data_path(ctx: typer.Context, data: Path | None) -> Path:
    """The data file: the tool's ``--data``, else ``kplay --data``, else KPLAY_DATA or the default."""
    if data is None and isinstance(ctx.obj, dict):
        data = ctx.obj.get("data")
    return resolve_data_path(data)


@contextlib.contextmanager
def one_line_errors(kafka_prefix: str = "", *, on_stdout: bool = False,
                    usage_on_stdout: bool | None = None) -> Iterator[None]:
    """Turn every expected failure inside the block into one stderr line and exit status 1.

    ``kafka_prefix`` is what the Kafka tool puts before a broker error, for example
    ``"Error while executing topic command : "`` for kafka-topics. With ``on_stdout`` the
    refusals (a UsageProblem too) go to stdout behind the prefix, as kafka-topics prints
    every failure of its command's execution; a data file that cannot be used stays on stderr.
    ``usage_on_stdout`` overrides that for UsageProblem (kafka-consumer-groups prints broker
    errors on stdout but refused arguments on stderr).
    """
    try:
        yield
    except ClusterChoiceProblem as problem:
        print_error(f"kplay: {problem}")
        raise typer.Exit(1) from None
    except (ClusterUnreachable, ReadOnlyCluster) as problem:
        print_error(f"kplay: {problem}")
        raise typer.Exit(1) from None
    except UsageProblem as problem:
        if on_stdout if usage_on_stdout is None else usage_on_stdout:
            print_lines([f"{kafka_prefix}{problem}"])
        else:
            print_error(str(problem))
        raise typer.Exit(1) from None
    except StorageError as error:
        print_error(f"Error: {error}")
        raise typer.Exit(1) from None
    except (KafkaError, ToolFailure) as error:
        if on_stdout:
            print_lines([f"{kafka_prefix}{error}"])
        else:
            print_error(f"{kafka_prefix}{error}")
        raise typer.Exit(1) from None
    except sqlite3.Error as error:
        print_error(f"Error: the data file could not be used: {error}")
        raise typer.Exit(1) from None
    except BrokenPipeError:
        # The reader of our stdout went away (``kplay topics --list | head -1``): stop quietly.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(1) from None
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        print_error(f"Error: {error.strerror or error}{where}")
        raise typer.Exit(1) from None


def note_removed_flag(flag: str, replacement: str) -> None:
    """One stderr line for a flag Kafka 4.x removed that a tutorial still uses: it works, and says what replaced it."""
    print_error(f"Note: Kafka 4.x's tools have no {flag}; use {replacement} (kplay accepts {flag} and ignores it).")


def run_on_cluster(ctx: typer.Context, data: Path | None, tool: Callable[[Cluster], Awaitable[T]]) -> T:
    """Open the data file, run ``tool(cluster)`` in a fresh event loop, close, return its result."""
    path = data_path(ctx, data)

    async def session() -> T:
        cluster = await Cluster.open(path)
        try:
            return await tool(cluster)
        finally:
            await cluster.close()

    return asyncio.run(session())


def run_on_backend(ctx: typer.Context, data: Path | None, cluster: str | None,
                   tool: Callable[[Backend], Awaitable[T]]) -> T:
    """Open the cluster the flags name (the data file unless ``--cluster``/``KPLAY_CLUSTER``), run
    ``tool(backend)`` in a fresh event loop, close, return its result."""
    given_data = data is not None or (isinstance(ctx.obj, dict) and ctx.obj.get("data") is not None)
    spec = chosen_cluster(cluster, data_given=given_data)
    profile = resolve_cluster(spec) if spec is not None else None
    path = data_path(ctx, data) if profile is None else Path()

    async def session() -> T:
        backend: Backend = await open_chosen(profile, path)
        try:
            return await tool(backend)
        finally:
            await backend.close()

    return asyncio.run(session())


def playground_cluster(backend: Backend, tool: str, missing: str) -> Cluster:
    """The playground's core ``Cluster`` behind ``backend``, for a tool a Kafka client cannot run yet.

    On a real cluster this raises ``Unsupported`` (one line): ``missing`` says which Kafka request the
    client library does not expose, so the learner knows it is a client limit, not the cluster's.
    """
    if isinstance(backend, EmbeddedBackend):
        return backend.cluster
    raise Unsupported(f"kplay {tool} is not available on a real cluster: {missing}")


def confirm_destructive(backend: Backend, what: str, name: str, *, yes: bool) -> None:
    """On a real cluster, ask for ``name`` typed back before ``what`` (``--yes`` skips it).

    The playground's file is the learner's own scratch space: nothing is asked there. The answer is
    read from stdin; anything but the exact name (or no answer) refuses with one line.
    """
    if yes or isinstance(backend, EmbeddedBackend):
        return
    sys.stdout.flush()
    sys.stderr.write(f"This will {what} on cluster '{backend.name}'. Type '{name}' to confirm: ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if answer.strip() != name:
        sys.stderr.write("\n")
        raise UsageProblem(f"Not confirmed: {what} on cluster '{backend.name}' was not done "
                           "(type the name exactly, or pass --yes)")


def confirm_destructive_on_topics(backend: Backend, what: str, topics: Sequence[str] | None, *, yes: bool) -> None:
    """``confirm_destructive`` for an action on partitions: one topic's name typed back, or the
    cluster's name when the action spans several topics (``topics`` None: every topic)."""
    named = sorted(set(topics or ()))
    if topics is not None and len(named) == 1:
        confirm_destructive(backend, f"{what} in topic '{named[0]}'", named[0], yes=yes)
    else:
        spans = "every topic" if topics is None else "topics " + ", ".join(f"'{name}'" for name in named)
        confirm_destructive(backend, f"{what} in {spans}", backend.name, yes=yes)


# Options every tool accepts. The connection flags are ignored (kplay's cluster is the data
# file) but accepted, so a command copied from a Kafka tutorial runs unchanged.
DataOption = Annotated[Optional[Path], typer.Option(
    "--data", metavar="PATH", help="Data file (default: $KPLAY_DATA or the user data directory).")]
BootstrapServerOption = Annotated[Optional[str], typer.Option(
    "--bootstrap-server", metavar="SERVER",
    help="Ignored: kplay's tools work on the playground's data file (--cluster HOST:PORT reaches a real cluster).")]
ClusterOption = Annotated[Optional[str], typer.Option(
    "--cluster", metavar="HOST:PORT|NAME",
    help="A real Kafka cluster instead of the playground: bootstrap servers, or a profile in clusters.toml "
         "(default: $KPLAY_CLUSTER).")]
YesOption = Annotated[bool, typer.Option(
    "--yes", help="On a real cluster (--cluster): do not ask for the name typed back before a destructive action.")]
BrokerListOption = Annotated[Optional[str], typer.Option(
    "--broker-list", metavar="BROKERS", help="Removed in Kafka 4.0 (use --bootstrap-server); accepted with a note.")]
ZookeeperOption = Annotated[Optional[str], typer.Option(
    "--zookeeper", metavar="HOSTS", hidden=True, help="Removed from Kafka's tools (use --bootstrap-server).")]
CommandConfigOption = Annotated[Optional[str], typer.Option(
    "--command-config", metavar="FILE", help="Ignored: kplay needs no client configuration.")]
