"""Which real cluster ``--cluster`` (or ``KPLAY_CLUSTER``) names: bootstrap servers or a profile.

``--cluster HOST:PORT[,HOST:PORT]`` connects with nothing else set. ``--cluster NAME`` reads the
profile NAME from ``clusters.toml`` in kplay's config directory (``~/.config/kplay/clusters.toml``
on Linux; ``$KPLAY_CLUSTERS`` names another file): librdkafka's properties, plus kplay's own::

    [prod]
    "bootstrap.servers" = "kafka-1.example.com:9093,kafka-2.example.com:9093"
    "security.protocol" = "SASL_SSL"
    "sasl.mechanism" = "SCRAM-SHA-512"
    "sasl.username" = "me"
    "sasl.password" = "..."
    "ssl.ca.location" = "/etc/ssl/certs/ca.pem"
    "schema.registry.url" = "https://registry.example.com"   # kplay schema-registry --cluster prod
    "connect.url" = "https://connect.example.com"            # kplay connect --cluster prod
    "schema.registry.basic.auth.user.info" = "user:password"  # HTTP basic auth (connect.basic... too)
    read_only = true                                          # refuse every write
    "kplay.poll.interval.ms" = 1000                           # how often the live view polls

Unquoted dotted keys (``bootstrap.servers = "..."``) mean the same. Every problem (no such
profile, a file TOML cannot read, a value of the wrong type) is a ``ClusterChoiceProblem`` whose
text is the one line to print; a property librdkafka does not know is reported when connecting.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from app.backends.interface import DEFAULT_POLL_INTERVAL_S

#: The environment variable that picks a cluster when ``--cluster`` is not given.
CLUSTER_VARIABLE = "KPLAY_CLUSTER"
#: The environment variable naming another profiles file.
PROFILES_VARIABLE = "KPLAY_CLUSTERS"
#: Profile keys that are kplay's, not librdkafka's.
KPLAY_KEYS = ("schema.registry.url", "connect.url", "schema.registry.basic.auth.user.info",
              "connect.basic.auth.user.info", "read_only", "kplay.poll.interval.ms", "kplay.request.timeout.ms")
_BOOTSTRAP = re.compile(r"^\[?[A-Za-z0-9._:-]+?\]?:\d{1,5}$")


class ClusterChoiceProblem(Exception):
    """``--cluster`` names nothing usable; the text is one line saying why."""


@dataclass(frozen=True)
class ClusterProfile:
    """A real cluster to open: librdkafka ``properties`` and kplay's settings for it."""

    name: str
    properties: dict[str, str]
    read_only: bool = False
    schema_registry_url: str | None = None
    connect_url: str | None = None
    schema_registry_user_info: str | None = None
    connect_user_info: str | None = None
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    request_timeout_s: float | None = None
    source: str = field(default="", compare=False)  # the file it came from ("" for HOST:PORT)

    @property
    def bootstrap_servers(self) -> str:
        """The profile's bootstrap.servers."""
        return self.properties["bootstrap.servers"]


def default_profiles_path() -> Path:
    """``$KPLAY_CLUSTERS``, else ``clusters.toml`` in the user's config directory for kplay."""
    named = os.environ.get(PROFILES_VARIABLE)
    if named:
        return Path(named)
    import platformdirs

    return Path(platformdirs.user_config_dir("kplay")) / "clusters.toml"


def chosen_cluster(flag: str | None, *, data_given: bool = False) -> str | None:
    """The cluster the tool should open: ``--cluster``, else ``KPLAY_CLUSTER`` unless ``--data`` was given."""
    if flag is not None:
        if data_given:
            raise ClusterChoiceProblem("--data and --cluster name two different clusters: give one of them")
        return flag
    if data_given:
        return None
    return os.environ.get(CLUSTER_VARIABLE) or None


def resolve_cluster(spec: str, profiles_path: Path | None = None) -> ClusterProfile:
    """The profile ``spec`` names: ``HOST:PORT[,HOST:PORT...]`` or a profile name in ``clusters.toml``."""
    spec = spec.strip()
    if not spec:
        raise ClusterChoiceProblem("--cluster needs HOST:PORT[,HOST:PORT] or the name of a profile in clusters.toml")
    if ":" in spec or "," in spec:
        servers = [part.strip() for part in spec.split(",")]
        for server in servers:
            if not _BOOTSTRAP.match(server) or not 0 < int(server.rsplit(":", 1)[1]) < 65536:
                raise ClusterChoiceProblem(f"--cluster {spec}: '{server}' is not HOST:PORT")
        return ClusterProfile(spec, {"bootstrap.servers": ",".join(servers)})
    path = profiles_path or default_profiles_path()
    profiles = load_profiles(path, missing_ok=False, wanted=spec)
    if spec not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ClusterChoiceProblem(f"no cluster profile '{spec}' in {path} (profiles there: {known})")
    return profiles[spec]


def load_profiles(path: Path, *, missing_ok: bool = True, wanted: str = "") -> dict[str, ClusterProfile]:
    """Every profile in ``path`` (an empty dict for a missing file when ``missing_ok``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise ClusterChoiceProblem(f"no cluster profile '{wanted}': {path} does not exist "
                                   "(or give --cluster HOST:PORT)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ClusterChoiceProblem(f"{path}: cannot be read: {getattr(error, 'strerror', None) or error}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ClusterChoiceProblem(f"{path}: not valid TOML: {error}") from None
    profiles = {}
    for name, table in document.items():
        if not isinstance(table, dict):
            raise ClusterChoiceProblem(f"{path}: '{name}' must be a table of properties ([{name}])")
        profiles[name] = _profile(name, _flatten(table), path)
    return profiles


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"bootstrap": {"servers": x}}`` (TOML's unquoted dotted keys) as ``{"bootstrap.servers": x}``."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _profile(name: str, settings: dict[str, Any], path: Path) -> ClusterProfile:
    where = f"{path}: profile '{name}'"
    properties: dict[str, str] = {}
    for key, value in settings.items():
        if key in KPLAY_KEYS:
            continue
        if isinstance(value, bool):
            properties[key] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            properties[key] = str(value)
        else:
            raise ClusterChoiceProblem(f"{where}: {key} must be a string, a number or true/false")
    if "bootstrap.servers" not in properties:
        raise ClusterChoiceProblem(f"{where} has no bootstrap.servers")
    read_only = settings.get("read_only", False)
    if not isinstance(read_only, bool):
        raise ClusterChoiceProblem(f"{where}: read_only must be true or false")

    def milliseconds(key: str) -> float | None:
        value = settings.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ClusterChoiceProblem(f"{where}: {key} must be a positive number of milliseconds")
        return value / 1000

    def url(key: str) -> str | None:
        value = settings.get(key)
        if value is not None and (not isinstance(value, str) or not re.match(r"^https?://", value)):
            raise ClusterChoiceProblem(f"{where}: {key} must be an http:// or https:// URL")
        return value

    def user_info(key: str) -> str | None:
        value = settings.get(key)
        if value is not None and (not isinstance(value, str) or ":" not in value):
            raise ClusterChoiceProblem(f"{where}: {key} must be \"user:password\"")
        return value

    return ClusterProfile(name, properties, read_only, url("schema.registry.url"), url("connect.url"),
                          user_info("schema.registry.basic.auth.user.info"), user_info("connect.basic.auth.user.info"),
                          milliseconds("kplay.poll.interval.ms") or DEFAULT_POLL_INTERVAL_S,
                          milliseconds("kplay.request.timeout.ms"), str(path))


async def open_chosen(profile: ClusterProfile | None, data_path: Path) -> Any:
    """Open what the user chose: the profile's cluster, or (no profile) the playground's data file.

    The one place the tools (and the playground's screen) turn ``--cluster``/``--data`` into a
    ``Backend``; pair it with ``chosen_cluster`` and ``resolve_cluster``.
    """
    if profile is None:
        from app.backends import EmbeddedBackend

        return await EmbeddedBackend.open(data_path)
    return await open_profile(profile)


async def open_profile(profile: ClusterProfile) -> Any:
    """Connect to the profile's cluster: a ``KafkaClientBackend`` (``ClusterUnreachable`` if it cannot)."""
    from broker_core.errors import InvalidConfig

    from app.backends.kafka_client import KafkaClientBackend

    options: dict[str, Any] = {}
    if profile.request_timeout_s is not None:
        options["request_timeout_s"] = profile.request_timeout_s
    try:
        return await KafkaClientBackend.open(profile.properties, name=profile.name, read_only=profile.read_only,
                                             poll_interval_s=profile.poll_interval_s,
                                             schema_registry_url=profile.schema_registry_url,
                                             connect_url=profile.connect_url,
                                             schema_registry_user_info=profile.schema_registry_user_info,
                                             connect_user_info=profile.connect_user_info, **options)
    except InvalidConfig as problem:
        where = f" (profile '{profile.name}' in {profile.source})" if profile.source else ""
        raise ClusterChoiceProblem(f"{problem}{where}") from None
