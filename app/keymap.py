"""User key remapping: a TOML file mapping binding ids to keys, applied with ``App.set_keymap``.

    # ~/.config/kplay/keys.toml  (KPLAY_KEYS names another file)
    [keys]
    "topic.new" = "c"                 # one key
    "help" = "question_mark,f1"       # or several, comma-separated

Every binding in the playground has a stable id (the help screen lists them), so a
remapping survives new releases. Keys use Textual's names: "j", "G", "f1", "question_mark",
"ctrl+x", "delete", ...
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

#: Environment variable naming the key file instead of the default location.
KEYS_ENV = "KPLAY_KEYS"


class KeymapError(ValueError):
    """The key file cannot be used; the message names the file and the problem in one line."""


def default_keymap_path() -> Path:
    """``$KPLAY_KEYS``, else ``keys.toml`` in the user's config directory for kplay."""
    env = os.environ.get(KEYS_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("kplay")) / "keys.toml"


def parse_keymap(text: str, source: str = "keys.toml") -> dict[str, str]:
    """Binding id -> keys from the TOML ``text``; raises ``KeymapError`` naming ``source``."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise KeymapError(f"{source}: not valid TOML ({error})") from None
    table = document.get("keys", {})
    if not isinstance(table, dict):
        raise KeymapError(f"{source}: [keys] must be a table of binding id = \"key\"")
    unexpected = sorted(k for k in document if k != "keys")
    if unexpected:
        raise KeymapError(f"{source}: unknown section {unexpected[0]!r}; put remappings under [keys]")
    keymap: dict[str, str] = {}
    for binding_id, keys in table.items():
        if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
            keys = ",".join(keys)
        if not isinstance(keys, str) or not keys.strip():
            raise KeymapError(f"{source}: keys for {binding_id!r} must be a non-empty string, like \"c\"")
        keymap[binding_id] = ",".join(part.strip() for part in keys.split(",") if part.strip())
    return keymap


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """The remappings in ``path`` (the default key file when None); empty if the file does not exist."""
    path = path or default_keymap_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise KeymapError(f"{path}: cannot be read ({error})") from None
    return parse_keymap(text, str(path))


@dataclass(frozen=True)
class DeclaredBinding:
    """A binding as its class declares it: where it works (``scope``: app, screen or widget;
    ``owner``: the class) and its default keys."""

    binding_id: str
    action: str
    description: str
    keys: tuple[str, ...]
    scope: str
    owner: str


def _overlap(a: DeclaredBinding, b: DeclaredBinding) -> bool:
    """Whether one key means both bindings in the same place: the same class, or the app's keys
    (they work everywhere). A pane's key that shadows a screen key only while the pane has the
    focus (``e`` seeks a consumer view to its end) is how panes work, not a clash."""
    return a.owner == b.owner or "app" in (a.scope, b.scope)


def remap_clashes(keymap: dict[str, str], declared: list[DeclaredBinding]) -> dict[str, str]:
    """Remaps that take a key another action already uses where both work: binding id -> why, in one line.

    Only keys the remap adds count: clashes the defaults already have (a lesson's ``n`` steps, elsewhere
    ``n`` makes a topic) are by design.
    """
    def keys_of(d: DeclaredBinding) -> tuple[str, ...]:
        return tuple(keymap[d.binding_id].split(",")) if d.binding_id in keymap else d.keys

    clashes: dict[str, str] = {}
    for mine in declared:
        if mine.binding_id not in keymap or mine.binding_id in clashes:
            continue
        for key in keys_of(mine):
            if key in mine.keys:
                continue
            other = next((d for d in declared if d.binding_id != mine.binding_id and d.action != mine.action
                          and key in keys_of(d) and _overlap(mine, d)), None)
            if other is not None:
                clashes[mine.binding_id] = (f"{mine.binding_id} = \"{keymap[mine.binding_id]}\" not applied: "
                                            f"{key} already does \"{other.description}\" ({other.binding_id})")
                break
    return clashes
