"""The topic creation form: name, partitions, replication factor, retention and cleanup policy.

Every field is checked as it is typed by the broker core's own rules
(``validate_topic_name``, ``validate_new_topic``, ``validate_topic_config``), so the form
refuses exactly what ``create_topic`` and ``kplay topics --create`` refuse, in the same
words. What only the data file can know (a name already taken) comes back from
``create_topic`` itself and is shown under the field it concerns.
"""

from __future__ import annotations

from typing import Callable, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Select, Static

from broker_core.config import DAY_MS, TOPIC_CONFIGS, validate_topic_config
from broker_core.errors import (InvalidConfig, InvalidPartitions, InvalidReplicationFactor, InvalidTopic,
                                KafkaError, TopicAlreadyExists)
from broker_core.names import validate_topic_name
from broker_core.topics import validate_new_topic
from widgets.safe_text import printable

from ..backends import Backend

#: Form defaults: enough partitions and replicas that a first topic shows both at once.
DEFAULT_PARTITIONS = 3
DEFAULT_REPLICATION_FACTOR = 2
CLEANUP_CHOICES = ("delete", "compact", "compact,delete")
#: Longest error line drawn (Kafka's name error quotes the whole name).
ERROR_LIMIT = 160


class CoreRule(Validator):
    """A Textual validator that asks one of the broker core's checks (one source of truth)."""

    def __init__(self, check: Callable[[str], None]) -> None:
        super().__init__()
        self._check = check

    def validate(self, value: str) -> ValidationResult:
        try:
            self._check(value)
        except KafkaError as error:
            return self.failure(printable(str(error), ERROR_LIMIT), value)
        return self.success()


def _whole_number(field: str, raw: str) -> int:
    text = raw.strip()
    # ASCII digits only: int() would also take "٣" or "1_000", which no Kafka tool reads as a count.
    if not text:
        raise InvalidConfig(f"{field} must be a whole number (the field is empty)")
    if not (text.lstrip("+-").isascii() and text.lstrip("+-").isdigit() and text.count("-") + text.count("+") <= 1):
        raise InvalidConfig(f"{field} must be a whole number, not '{printable(text, 40)}'")
    return int(text)


def human_duration(ms: int) -> str:
    """``ms`` in the largest whole unit a person reads easily ("7 days", "90 s", "forever")."""
    if ms < 0:
        return "forever"
    for unit, size in (("day", DAY_MS), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000)):
        if ms >= size and ms % size == 0:
            count = ms // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{ms} ms"


class TopicFormScreen(ModalScreen[str | None]):
    """Create a topic from the keyboard; dismisses with the new topic's name, or None if cancelled."""

    CSS_PATH = "topic_form.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="topic-form.cancel"),
        Binding("ctrl+s", "create", "Create", show=False, id="topic-form.create"),
    ]

    def __init__(self, backend: Backend, live_brokers: int) -> None:
        super().__init__()
        self.backend = backend
        self.live_brokers = live_brokers
        self._creating = False

    def compose(self) -> ComposeResult:
        rf_default = max(1, min(DEFAULT_REPLICATION_FACTOR, self.live_brokers))
        retention = TOPIC_CONFIGS["retention.ms"].default
        with Vertical(id="topic-form"):
            yield Static(Text("New topic", style="bold"), id="topic-form-title")
            with Grid(id="topic-form-fields"):
                yield Label("Name", classes="field-label")
                yield Input(placeholder="orders", id="name", validate_on=["changed"], compact=True,
                            validators=[CoreRule(validate_topic_name)])
                yield Label("", id="name-error", classes="field-error", markup=False)
                yield Label("Partitions", classes="field-label")
                # Typed as text and checked: an integer Input drops a "." silently ("2.5" became 25).
                yield Input(str(DEFAULT_PARTITIONS), id="partitions", validate_on=["changed"], compact=True,
                            validators=[CoreRule(self._check_partitions)])
                yield Label("", id="partitions-error", classes="field-error", markup=False)
                yield Label("Replication factor", classes="field-label")
                yield Input(str(rf_default), id="replication-factor", validate_on=["changed"], compact=True,
                            validators=[CoreRule(self._check_replication_factor)])
                yield Label("", id="replication-factor-error", classes="field-error", markup=False)
                yield Label("retention.ms", classes="field-label")
                yield Input(str(retention), id="retention-ms", validate_on=["changed"], compact=True,
                            validators=[CoreRule(self._check_retention)])
                yield Label(Text(human_duration(retention), style="dim"), id="retention-ms-error",
                            classes="field-error")
                yield Label("cleanup.policy", classes="field-label")
                yield Select([(choice, choice) for choice in CLEANUP_CHOICES], value="delete",
                             allow_blank=False, id="cleanup-policy", compact=True)
                yield Label(Text(TOPIC_CONFIGS["cleanup.policy"].doc, style="dim"), id="cleanup-policy-help",
                            classes="field-error")
                yield Label("min.insync.replicas", classes="field-label")
                yield Input(str(TOPIC_CONFIGS["min.insync.replicas"].default), id="min-insync-replicas",
                            validate_on=["changed"], compact=True,
                            validators=[CoreRule(self._check_min_insync)])
                yield Label(Text("in-sync replicas an acks=all write needs", style="dim"),
                            id="min-insync-replicas-error", classes="field-error")
            yield Label("", id="form-error", markup=False)
            yield Static(Text(f"{self.live_brokers} live broker{'s' if self.live_brokers != 1 else ''}.  "
                              "enter creates · escape cancels · tab moves between fields", style="dim"),
                         id="topic-form-hint")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    # -- checks: each field alone, through the core ------------------------------------------
    def _check_partitions(self, raw: str) -> None:
        partitions = _whole_number("Partitions", raw)
        try:
            validate_new_topic("t", partitions, 1, max(1, self.live_brokers))
        except InvalidPartitions:
            raise
        except KafkaError:
            pass  # not this field's concern

    def _check_replication_factor(self, raw: str) -> None:
        factor = _whole_number("Replication factor", raw)
        try:
            validate_new_topic("t", 1, factor, self.live_brokers)
        except InvalidReplicationFactor:
            raise
        except KafkaError:
            pass

    @staticmethod
    def _check_retention(raw: str) -> None:
        validate_topic_config({"retention.ms": raw})

    @staticmethod
    def _check_min_insync(raw: str) -> None:
        validate_topic_config({"min.insync.replicas": raw})

    def _explain_min_insync(self) -> None:
        """Under min.insync.replicas: what it means with the replication factor typed (Kafka allows
        a value above it, and then refuses every acks=all write with NotEnoughReplicas)."""
        field = self.query_one("#min-insync-replicas", Input)
        if field.has_class("-invalid"):
            return
        try:
            min_isr, factor = int(field.value), int(self._value("replication-factor"))
        except ValueError:
            return
        note = (f"more than the {factor} replicas: every acks=all write will fail (NotEnoughReplicas)"
                if min_isr > factor else "in-sync replicas an acks=all write needs")
        self.query_one("#min-insync-replicas-error", Label).update(
            Text(note, style="bold yellow" if min_isr > factor else "dim"))

    # -- state --------------------------------------------------------------------------------
    def _value(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    def field_error(self, field_id: str) -> str:
        """The error shown under field ``field_id`` now ("" when it is valid)."""
        return str(self.query_one(f"#{field_id}-error", Label).content) if self.query_one(
            f"#{field_id}", Input).has_class("-invalid") else ""

    @on(Input.Changed)
    def _show_validation(self, event: Input.Changed) -> None:
        field_id = event.input.id or ""
        label = self.query_one(f"#{field_id}-error", Label)
        result = event.validation_result
        if result is not None and not result.is_valid:
            label.update(Text(result.failure_descriptions[0], style="bold red"))
        elif field_id == "retention-ms":
            label.update(Text(human_duration(int(event.value.strip())), style="dim"))
        elif field_id == "min-insync-replicas":
            self._explain_min_insync()
        else:
            label.update("")
            if field_id == "replication-factor":
                self._explain_min_insync()
        self.query_one("#form-error", Label).update("")

    def _config(self) -> dict[str, str]:
        """Config overrides the user chose (defaults are left out, as kafka-topics does)."""
        config: dict[str, str] = {}
        retention = self._value("retention-ms").strip()
        if int(retention) != TOPIC_CONFIGS["retention.ms"].default:
            config["retention.ms"] = retention
        min_isr = self._value("min-insync-replicas").strip()
        if min_isr and int(min_isr) != TOPIC_CONFIGS["min.insync.replicas"].default:
            config["min.insync.replicas"] = min_isr
        policy = self.query_one("#cleanup-policy", Select).value
        if isinstance(policy, str) and policy != TOPIC_CONFIGS["cleanup.policy"].default:
            config["cleanup.policy"] = policy
        return config

    # -- actions ------------------------------------------------------------------------------
    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_create()

    def action_create(self) -> None:
        """Create the topic if every field is valid; otherwise focus the first invalid field."""
        if self._creating:
            return
        for field_id in ("name", "partitions", "replication-factor", "retention-ms", "min-insync-replicas"):
            field = self.query_one(f"#{field_id}", Input)
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                self.query_one(f"#{field_id}-error", Label).update(
                    Text(result.failure_descriptions[0], style="bold red"))
                field.focus()
                self.app.bell()
                return
        self._creating = True
        self._create(self._value("name"), int(self._value("partitions")),
                     int(self._value("replication-factor")), self._config())

    @work(exclusive=True, group="topic-form-create")
    async def _create(self, name: str, partitions: int, replication_factor: int, config: dict[str, str]) -> None:
        try:
            await self.backend.create_topic(name, partitions, replication_factor, config)
        except KafkaError as error:
            self._creating = False
            self._show_core_error(error)
            return
        self.dismiss(name)

    def _show_core_error(self, error: KafkaError) -> None:
        field_for = {TopicAlreadyExists: "name", InvalidTopic: "name", InvalidPartitions: "partitions",
                     InvalidReplicationFactor: "replication-factor"}
        field_id = next((f for cls, f in field_for.items() if isinstance(error, cls)), None)
        if isinstance(error, InvalidConfig) and "retention.ms" in str(error):
            field_id = "retention-ms"
        message = Text(printable(f"{error.name}: {error}", ERROR_LIMIT), style="bold red")
        if field_id is None:
            self.query_one("#form-error", Label).update(message)
            return
        field = self.query_one(f"#{field_id}", Input)
        field.add_class("-invalid")
        self.query_one(f"#{field_id}-error", Label).update(message)
        field.focus()

    def action_cancel(self) -> None:
        """Close the form without creating anything."""
        self.dismiss(None)
