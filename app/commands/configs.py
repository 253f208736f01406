"""``kplay configs``: kafka-configs for topics and brokers, with its flags, output and refusals.

    kplay configs --entity-type topics --entity-name orders --alter --add-config retention.ms=60000,cleanup.policy=compact
    kplay configs --entity-type topics --entity-name orders --alter --delete-config retention.ms
    kplay configs --entity-type topics --entity-name orders --describe [--all]
    kplay configs --entity-type brokers --entity-name 0 --describe --all

The lines are Kafka 4.x's ``ConfigCommand``: ``Dynamic configs for topic orders are:`` then
``  name=value sensitive=false synonyms={SOURCE:name=value, ...}``, and ``Completed updating config
for topic orders.`` after an alter. A value is checked by the same rules as at creation
(``broker_core.config``), and a refused one fails as Kafka's tool fails: its header line on stderr,
then the exception.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from app.backends import Backend, ClusterUnreachable, EmbeddedBackend, ReadOnlyCluster, Unsupported
from broker_core.config import ConfigEntry
from broker_core.errors import KafkaError
from broker_core.names import validate_topic_name

from .invocation import (BootstrapServerOption, ClusterOption, CommandConfigOption, DataOption, UsageProblem,
                         note_removed_flag, one_line_errors, run_on_backend)
from .output import java_exception_name, print_error, print_lines

#: kafka-configs' entity types (``ConfigType.ALL`` and the two it adds), in its order.
KAFKA_ENTITY_TYPES = ("topics", "clients", "users", "brokers", "ips", "broker-loggers", "client-metrics", "groups")
SUPPORTED_ENTITY_TYPES = ("topics", "brokers")
#: Splits at commas and '=' outside square brackets, as ConfigCommand's regular expression does.
_OUTSIDE_BRACKETS = r"(?=[^\]]*(?:\[|$))"


@dataclass(frozen=True)
class ConfigsCommand:
    """One ``kplay configs`` invocation, after its flags were checked."""

    action: str  # "describe" or "alter"
    entity_type: str
    entity_name: Optional[str]
    describe_all: bool
    to_add: dict[str, str]
    to_delete: tuple[str, ...]


class BrokerFailure(Exception):
    """A request the cluster refused: kafka-configs reports it with its header and the exception."""

    def __init__(self, error: KafkaError) -> None:
        super().__init__(str(error))
        self.error = error


def configs(
    ctx: typer.Context,
    alter: Annotated[bool, typer.Option("--alter", help="Alter the configuration for the entity.")] = False,
    describe: Annotated[bool, typer.Option("--describe", help="List configs for the given entity.")] = False,
    all_: Annotated[bool, typer.Option(
        "--all", help="List all configs for the given entity, including static configs if available.")] = False,
    entity_type: Annotated[Optional[list[str]], typer.Option(
        "--entity-type", metavar="TYPE", help="Type of entity (topics/brokers).")] = None,
    entity_name: Annotated[Optional[str], typer.Option(
        "--entity-name", metavar="NAME", help="Name of entity (topic name/broker id).")] = None,
    entity_default: Annotated[bool, typer.Option(
        "--entity-default", help="Default entity name for brokers.")] = False,
    add_config: Annotated[Optional[str], typer.Option(
        "--add-config", metavar="K=V,...", help="Key Value pairs of configs to add. Square brackets can be used to "
                                                "group values which contain commas: 'k1=v1,k2=[v1,v2,v2],k3=v3'.")] = None,
    add_config_file: Annotated[Optional[Path], typer.Option(
        "--add-config-file", metavar="FILE", help="Path to a properties file with configs to add.")] = None,
    delete_config: Annotated[Optional[list[str]], typer.Option(
        "--delete-config", metavar="K1,K2", help="config keys to remove 'k1,k2'")] = None,
    topic: Annotated[Optional[str], typer.Option("--topic", metavar="TOPIC", help="The topic's name.")] = None,
    broker: Annotated[Optional[str], typer.Option("--broker", metavar="ID", help="The broker's ID.")] = None,
    broker_defaults: Annotated[bool, typer.Option(
        "--broker-defaults", help="The config defaults for all brokers.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Suppress console prompts.")] = False,
    zookeeper: Annotated[Optional[str], typer.Option(
        "--zookeeper", metavar="URLS", hidden=True, help="Removed in Kafka 4.0: use --bootstrap-server.")] = None,
    bootstrap_controller: Annotated[Optional[str], typer.Option(
        "--bootstrap-controller", metavar="SERVER", help="Ignored: kplay's cluster is the data file.")] = None,
    bootstrap_server: BootstrapServerOption = None,
    command_config: CommandConfigOption = None,
    data: DataOption = None,
    cluster: ClusterOption = None,
) -> None:
    """Change or describe the configs of a topic or a broker (kafka-configs)."""
    if zookeeper is not None:
        note_removed_flag("--zookeeper", "--bootstrap-server")
    with one_line_errors():
        command = check_arguments(
            alter=alter, describe=describe, describe_all=all_, entity_types=list(entity_type or ()),
            entity_name=entity_name, entity_default=entity_default, add_config=add_config,
            add_config_file=add_config_file, delete_config=list(delete_config or ()), topic=topic, broker=broker,
            broker_defaults=broker_defaults)
        try:
            run_on_backend(ctx, data, cluster, lambda backend: execute(backend, command))
        except BrokerFailure as failure:
            # ConfigCommand.main's catch-all: its header, then the exception the admin client threw.
            print_error(f"Error while executing config command with args '{' '.join(_tool_arguments())}'")
            print_error(f"java.util.concurrent.ExecutionException: org.apache.kafka.common.errors."
                        f"{java_exception_name(failure.error)}: {failure.error}")
            raise typer.Exit(1) from None


def _tool_arguments() -> list[str]:
    arguments = sys.argv[1:]
    return arguments[arguments.index("configs") + 1:] if "configs" in arguments else arguments


def check_arguments(*, alter: bool, describe: bool, describe_all: bool, entity_types: list[str],
                    entity_name: Optional[str], entity_default: bool, add_config: Optional[str],
                    add_config_file: Optional[Path], delete_config: list[str], topic: Optional[str],
                    broker: Optional[str], broker_defaults: bool) -> ConfigsCommand:
    """``ConfigCommandOptions.checkArgs``: refuse what kafka-configs refuses, in its words."""
    if alter == describe:
        raise UsageProblem("Command must include exactly one action: --describe, --alter")
    if describe and (add_config is not None or delete_config or add_config_file is not None):
        given = "add-config" if add_config is not None else "delete-config" if delete_config else "add-config-file"
        raise UsageProblem(f'Option "[describe]" can\'t be used with option "[{given}]"')
    if alter and describe_all:
        raise UsageProblem('Option "[alter]" can\'t be used with option "[all]"')
    specific = [("topics", topic), ("brokers", broker)]
    types = entity_types + [kind for kind, value in specific if value is not None]
    types += ["brokers"] if broker_defaults else []
    if len(types) != len(set(types)):
        duplicates = sorted({kind for kind in types if types.count(kind) > 1})
        raise UsageProblem(f"Duplicate entity type(s) specified: {','.join(duplicates)}")
    for kind in types:
        if kind not in KAFKA_ENTITY_TYPES:
            raise UsageProblem(f"Invalid entity type {kind}, the entity type must be one of "
                               f"{', '.join(KAFKA_ENTITY_TYPES)} with a --bootstrap-server or "
                               "--bootstrap-controller argument")
        if kind not in SUPPORTED_ENTITY_TYPES:
            raise UsageProblem(f"kplay configs handles --entity-type topics and brokers; kplay has no {kind} configs")
    if not types:
        raise UsageProblem("At least one entity type must be specified")
    if len(types) > 1:
        raise UsageProblem("Only 'users' and 'clients' entity types may be specified together")
    if (entity_name is not None or entity_types or entity_default) and (
            topic is not None or broker is not None or broker_defaults):
        raise UsageProblem("--entity-{type,name,default} should not be used in conjunction with specific entity flags")
    kind = types[0]
    name = entity_name if entity_name is not None else topic if topic is not None else broker
    default = entity_default or broker_defaults
    if kind == "brokers" and name is not None:
        try:
            int(name)
        except ValueError:
            raise UsageProblem(f"The entity name for brokers must be a valid integer broker id, but it is: {name}") from None
    if describe and default and kind != "brokers":
        raise UsageProblem(f"--entity-default must not be specified with --describe of {kind}")
    if alter:
        if kind == "brokers" and name is None and not default:
            raise UsageProblem("An entity-name or default entity must be specified with --alter of users, "
                               "clients, brokers or ips")
        if kind == "topics" and name is None:
            raise UsageProblem("An entity name must be specified with --alter of topics")
        if add_config is not None and add_config_file is not None:
            raise UsageProblem("Only one of --add-config or --add-config-file must be specified")
        if add_config is None and add_config_file is None and not delete_config:
            raise UsageProblem("At least one of --add-config, --add-config-file, or --delete-config must be "
                               "specified with --alter")
    if kind == "topics" and name:
        validate_topic_name(name)
    to_add = parse_configs_to_add(add_config, add_config_file)
    to_delete = tuple(key.strip() for argument in delete_config for key in argument.split(","))
    return ConfigsCommand("alter" if alter else "describe", kind, name if name is not None else (
        "" if default else None), describe_all, to_add, to_delete)


def parse_configs_to_add(add_config: Optional[str], add_config_file: Optional[Path]) -> dict[str, str]:
    """``--add-config k1=v1,k2=[a,b]`` (and ``--add-config-file``) as ConfigCommand parses them."""
    configs: dict[str, str] = {}
    if add_config_file is not None:
        for line in add_config_file.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "!")):
                parts = re.split(r"\s*[=:]\s*", line, maxsplit=1)
                configs[parts[0]] = parts[1] if len(parts) > 1 else ""
    if add_config is not None:
        pairs = [re.split(r"\s*=\s*" + _OUTSIDE_BRACKETS, item) for item in re.split("," + _OUTSIDE_BRACKETS, add_config)]
        if not all(len(pair) == 2 for pair in pairs):
            raise UsageProblem('requirement failed: Invalid entity config: all configs to be added must be in the '
                               'format "key=val".')
        for key, value in pairs:
            configs[key.strip()] = re.sub(r"[\[\]]", "", value).strip()
    for key in configs:
        if not re.fullmatch(r"[a-zA-Z0-9._-]*", key):
            raise UsageProblem(f"Invalid character found for config key: {key}")
    return configs


async def execute(backend: Backend, command: ConfigsCommand) -> None:
    """Carry out the checked command and print what kafka-configs prints."""
    if command.entity_type == "topics":
        if command.action == "alter":
            await alter_topic(backend, command)
        else:
            await describe_topics(backend, command)
    elif command.action == "alter":
        if isinstance(backend, EmbeddedBackend):
            raise UsageProblem("kplay's broker configs are fixed: change a topic's configs with --entity-type topics")
        await alter_broker(backend, command)
    else:
        await describe_brokers(backend, command)


async def alter_topic(backend: Backend, command: ConfigsCommand) -> None:
    """``--alter`` of a topic: IncrementalAlterConfigs with SET and DELETE operations."""
    name = command.entity_name
    assert name is not None
    try:  # kafka-configs checks --delete-config against the topic's own (dynamic) configs
        current = {entry.name for entry in await backend.describe_config(name)
                   if entry.source == "DYNAMIC_TOPIC_CONFIG"}
    except (ClusterUnreachable, ReadOnlyCluster):
        raise
    except KafkaError as error:
        raise BrokerFailure(error) from None
    missing = [key for key in command.to_delete if key not in current]
    if missing:
        raise UsageProblem(f"Invalid config(s): {','.join(missing)}")
    try:
        await backend.alter_config(name, command.to_add, command.to_delete)
    except (ClusterUnreachable, ReadOnlyCluster):
        raise
    except KafkaError as error:
        raise BrokerFailure(error) from None
    print_lines([f"Completed updating config for topic {name}."])


async def describe_topics(backend: Backend, command: ConfigsCommand) -> None:
    """``--describe`` of one topic or of all: dynamic configs, or with ``--all`` every config."""
    names = [command.entity_name] if command.entity_name else await backend.list_topics()
    lines: list[str] = []
    for name in names:
        try:
            entries = await backend.describe_config(name)
        except ClusterUnreachable:
            raise
        except KafkaError as error:
            print_lines(lines)
            raise BrokerFailure(error) from None
        lines.append(f"{'All' if command.describe_all else 'Dynamic'} configs for topic {name} are:")
        lines.extend(entry_line(entry) for entry in entries
                     if command.describe_all or entry.source == "DYNAMIC_TOPIC_CONFIG")
    print_lines(lines)


async def describe_brokers(backend: Backend, command: ConfigsCommand) -> None:
    """``--describe`` of brokers: their dynamic configs, or with ``--all`` every config (the playground's
    brokers have no dynamic configs; ``--all`` shows Kafka's defaults)."""
    brokers = [str(b.broker_id) for b in await backend.brokers() if b.alive]
    names = [command.entity_name] if command.entity_name is not None else [*brokers, ""]
    lines: list[str] = []
    for name in names:
        if name != "" and name not in brokers:
            print_lines(lines)
            raise BrokerFailure(_NoSuchBroker(f"Broker {name} is not available"))
        try:
            entries = await backend.describe_broker_config(name)
        except (ClusterUnreachable, ReadOnlyCluster):
            raise
        except KafkaError as error:
            print_lines(lines)
            raise BrokerFailure(error) from None
        if name == "":
            lines.append("Default configs for brokers in the cluster are:")
        else:
            lines.append(f"{'All' if command.describe_all else 'Dynamic'} configs for broker {name} are:")
        lines.extend(entry_line(entry) for entry in entries
                     if command.describe_all or entry.source == _dynamic_broker_source(name))
    print_lines(lines)


def _dynamic_broker_source(name: str) -> str:
    """ConfigCommand.getResourceConfig's filter without ``--all``: one broker's or the default entity's."""
    return "DYNAMIC_DEFAULT_BROKER_CONFIG" if name == "" else "DYNAMIC_BROKER_CONFIG"


async def alter_broker(backend: Backend, command: ConfigsCommand) -> None:
    """``--alter`` of a broker (or ``--entity-default``) on a real cluster: dynamic broker configs."""
    name = command.entity_name
    assert name is not None
    try:  # kafka-configs checks --delete-config against the broker's own dynamic configs
        current = {entry.name for entry in await backend.describe_broker_config(name)
                   if entry.source == _dynamic_broker_source(name)}
        missing = [key for key in command.to_delete if key not in current]
        if missing:
            raise UsageProblem(f"Invalid config(s): {','.join(missing)}")
        await backend.alter_broker_config(name, command.to_add, command.to_delete)
    except (ClusterUnreachable, ReadOnlyCluster, Unsupported):
        raise
    except KafkaError as error:
        raise BrokerFailure(error) from None
    print_lines([f"Completed updating config for broker {name}." if name else
                 "Completed updating default config for brokers in the cluster."])


class _NoSuchBroker(KafkaError):
    """A broker id that is not in the cluster (Kafka's admin client times out on it)."""


def entry_line(entry: ConfigEntry) -> str:
    """``  name=value sensitive=false synonyms={SOURCE:name=value, ...}``"""
    synonyms = ", ".join(f"{source}:{name}={value}" for source, name, value in entry.synonyms)
    return f"  {entry.name}={entry.value} sensitive=false synonyms={{{synonyms}}}"


def register(app: typer.Typer) -> None:
    """Add ``kplay configs`` to the app."""
    app.command("configs")(configs)
