"""The edge agent's contracts with the outside: MQTT topics and payload models, and the interface an
instrument driver implements (docs/architecture.md, "MQTT" and "Drivers").

One place for every topic string and payload shape. The edge agent and the simulators build payloads
with these models; backend ingest parses them with :func:`parse_payload`, which turns any bad payload into
a :class:`PayloadError` whose message names the offending field (e.g. ``samples[3].ts``).

Only pydantic is imported here: this module runs on the small PC beside an instrument.

Topic layout: ``pilotshare/v1/{platform}/{resource}/{channel}`` where channel is one of
``telemetry``, ``status``, ``event``, ``cmd``, ``cmd/ack``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

TOPIC_ROOT = "pilotshare/v1"
QOS = 1

#: Platform and resource codes: URL-safe, never an MQTT wildcard or separator.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$"
_CODE_RE = re.compile(CODE_PATTERN)

#: Epoch nanoseconds below this (1973-03-03) are almost surely seconds, ms or µs sent by mistake.
MIN_EPOCH_NS = 10**17
MAX_SAMPLES_PER_MESSAGE = 10_000


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    STATUS = "status"
    EVENT = "event"
    CMD = "cmd"
    CMD_ACK = "cmd/ack"


#: QoS 1 everywhere; only ``status`` is retained (birth + Last Will).
RETAINED = frozenset({Channel.STATUS})


class PayloadError(ValueError):
    """A payload or topic that does not follow the contract; the message names the bad field."""


# --------------------------------------------------------------------------- topics


class TopicParts(NamedTuple):
    platform: str
    resource: str
    channel: Channel


def check_code(value: str, what: str = "code") -> str:
    if not isinstance(value, str) or not _CODE_RE.match(value):
        raise PayloadError(
            f"{what}: {value!r} is not a valid code (letters, digits, '.', '_', '~', '-'; 1-64 chars)"
        )
    return value


def topic(platform: str, resource: str, channel: Channel | str) -> str:
    """``pilotshare/v1/{platform}/{resource}/{channel}``; raises PayloadError on a bad code or channel."""
    check_code(platform, "platform")
    check_code(resource, "resource")
    try:
        ch = Channel(channel)
    except ValueError:
        raise PayloadError(f"channel: {channel!r} is not one of {[c.value for c in Channel]}") from None
    return f"{TOPIC_ROOT}/{platform}/{resource}/{ch.value}"


def telemetry_topic(platform: str, resource: str) -> str:
    return topic(platform, resource, Channel.TELEMETRY)


def status_topic(platform: str, resource: str) -> str:
    return topic(platform, resource, Channel.STATUS)


def event_topic(platform: str, resource: str) -> str:
    return topic(platform, resource, Channel.EVENT)


def cmd_topic(platform: str, resource: str) -> str:
    return topic(platform, resource, Channel.CMD)


def cmd_ack_topic(platform: str, resource: str) -> str:
    return topic(platform, resource, Channel.CMD_ACK)


def subscription(platform: str = "+", resource: str = "+", channel: Channel | str = "#") -> str:
    """A subscription filter, e.g. ``subscription("jinan-bio", channel="telemetry")``.

    ``+`` and ``#`` are allowed here (and only here) as wildcards.
    """
    for value, what in ((platform, "platform"), (resource, "resource")):
        if value != "+":
            check_code(value, what)
    ch = channel if channel in ("#", "+") else Channel(channel).value
    return f"{TOPIC_ROOT}/{platform}/{resource}/{ch}"


def parse_topic(value: str) -> TopicParts:
    """Split a concrete topic into platform, resource and channel; PayloadError names what is wrong."""
    prefix = TOPIC_ROOT + "/"
    if not value.startswith(prefix):
        raise PayloadError(f"topic: {value!r} does not start with {prefix!r}")
    parts = value[len(prefix) :].split("/")
    if len(parts) < 3:
        raise PayloadError(f"topic: {value!r} lacks platform/resource/channel")
    platform, resource, rest = parts[0], parts[1], "/".join(parts[2:])
    check_code(platform, "topic platform")
    check_code(resource, "topic resource")
    try:
        channel = Channel(rest)
    except ValueError:
        raise PayloadError(f"topic channel: {rest!r} is not one of {[c.value for c in Channel]}") from None
    return TopicParts(platform, resource, channel)


# --------------------------------------------------------------------------- timestamps


def _check_timestamp(value: str | int) -> str | int:
    if isinstance(value, int):
        if value < MIN_EPOCH_NS:
            raise ValueError(
                f"epoch timestamps are nanoseconds; {value} is before 1973 (seconds or milliseconds?)"
            )
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None or "T" not in value.upper():
        raise ValueError(f"{value!r} must be RFC 3339 with a time zone, e.g. 2026-12-01T08:00:00+08:00")
    return value


#: RFC 3339 text with a zone, or integer epoch nanoseconds.
Timestamp = Annotated[StrictInt | StrictStr, AfterValidator(_check_timestamp)]


def to_epoch_ns(ts: str | int) -> int:
    """Nanoseconds since the epoch for a contract timestamp (validated first)."""
    ts = _check_timestamp(ts)
    if isinstance(ts, int):
        return ts
    parsed = datetime.fromisoformat(ts)
    whole = int(parsed.replace(microsecond=0).timestamp())
    # fromisoformat keeps only microseconds; recover extra nanosecond digits from the text.
    frac = re.search(r"[T ]\d{2}:\d{2}:\d{2}\.(\d+)", ts)
    nanos = int((frac.group(1) + "000000000")[:9]) if frac else 0
    return whole * 1_000_000_000 + nanos


def rfc3339(ns: int | None = None) -> str:
    """RFC 3339 UTC text for epoch nanoseconds (now when None), millisecond precision."""
    if ns is None:
        return datetime.now(UTC).isoformat(timespec="milliseconds")
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------- payloads


def _check_field_name(name: str) -> str:
    if not name or len(name) > 64:
        raise ValueError(f"field name {name!r} must be 1-64 characters")
    if name == "time":
        raise ValueError("field name 'time' is reserved (InfluxDB)")
    return name


def _check_field_value(value: Any) -> bool | int | float | str:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite (no NaN or infinity)")
        return value
    raise ValueError(f"must be a number, a boolean or a string, not {type(value).__name__}")


FieldName = Annotated[str, AfterValidator(_check_field_name)]
FieldValue = Annotated[bool | int | float | str, PlainValidator(_check_field_value)]
Fields = dict[FieldName, FieldValue]


class _Payload(BaseModel):
    # Adding keys is how the contract evolves, so unknown keys are kept, not refused.
    model_config = ConfigDict(extra="allow", frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()


class Sample(_Payload):
    ts: Timestamp
    fields: Fields = Field(min_length=1)

    @property
    def ts_ns(self) -> int:
        return to_epoch_ns(self.ts)


class Telemetry(_Payload):
    agent: str = Field(min_length=1)
    seq: int = Field(ge=0)
    samples: list[Sample] = Field(min_length=1, max_length=MAX_SAMPLES_PER_MESSAGE)

    def points(self) -> list[tuple[int, dict[str, bool | int | float | str]]]:
        """``(epoch ns, fields)`` per sample, as ingest writes them."""
        return [(s.ts_ns, dict(s.fields)) for s in self.samples]


class StatusOnline(_Payload):
    """Retained birth message."""

    state: Literal["online"] = "online"
    agent: str = Field(min_length=1)
    since: Timestamp
    fields: Fields = Field(default_factory=dict)


class StatusOffline(_Payload):
    """The Last Will (also published on a clean shutdown): exactly ``{"state": "offline"}``."""

    state: Literal["offline"] = "offline"


Status = Annotated[StatusOnline | StatusOffline, Field(discriminator="state")]
LAST_WILL = b'{"state":"offline"}'

EventKind = Literal["alarm", "state", "fault"]
Severity = Literal["info", "warning", "critical"]


class Event(_Payload):
    ts: Timestamp
    kind: EventKind
    code: str = Field(min_length=1, max_length=64)
    severity: Severity
    message: str = ""


CommandAction = Literal["lock", "unlock", "setpoint"]


class OnBehalfOf(_Payload):
    """Whose authority a command carries: the booking it serves, or the user who sent it."""

    booking: StrictInt | StrictStr | None = None
    user: StrictInt | StrictStr | None = None


class Command(_Payload):
    """``lock`` / ``unlock`` take no args; ``setpoint`` takes ``{signal name: value}``.

    ``on_behalf_of`` and ``expires`` are optional in the payload so that older senders still parse, but an
    edge agent executes a command only when both are there and it has not expired (:meth:`refusal`).
    """

    id: str = Field(min_length=1, max_length=128)
    action: CommandAction
    args: dict[str, Any] = Field(default_factory=dict)
    on_behalf_of: OnBehalfOf | None = None
    expires: Timestamp | None = None

    def refusal(self, now_ns: int) -> str | None:
        """Why an agent must not execute this command now, or None when it may."""
        who = self.on_behalf_of
        if who is None or (who.booking is None and who.user is None):
            return "on_behalf_of: name the booking or the user this command is sent for"
        if self.expires is None:
            return "expires: a command must say until when it is valid"
        if to_epoch_ns(self.expires) <= now_ns:
            return f"expired at {self.expires}"
        return None


class CommandAck(_Payload):
    id: str = Field(min_length=1, max_length=128)
    ok: bool
    error: str | None = None


_MODELS: dict[Channel, TypeAdapter[Any]] = {
    Channel.TELEMETRY: TypeAdapter(Telemetry),
    Channel.STATUS: TypeAdapter(Status),
    Channel.EVENT: TypeAdapter(Event),
    Channel.CMD: TypeAdapter(Command),
    Channel.CMD_ACK: TypeAdapter(CommandAck),
}


def _describe(exc: ValidationError, channel: Channel) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        loc = ""
        for part in err["loc"]:
            if isinstance(part, int):
                loc += f"[{part}]"
            elif part in ("online", "offline") and not loc:
                continue  # discriminator branch, not a field
            elif part.startswith(("function-after", "str", "int", "bool", "float")) or "[" in part:
                continue  # union branch names
            else:
                loc += f".{part}" if loc else part
        if not loc and err["type"] == "union_tag_invalid":
            loc = "state"
        problems.append(f"{loc or '(payload)'}: {err['msg']}")
    unique = list(dict.fromkeys(problems))
    return f"bad {channel.value} payload: " + "; ".join(unique[:5])


def parse_payload(channel: Channel | str, payload: bytes | bytearray | str | dict[str, Any]) -> Any:
    """Validate a payload for ``channel`` and return its model (``Status`` gives online or offline).

    Raises PayloadError naming the bad field, e.g. ``bad telemetry payload: samples[0].ts: ...``.
    """
    ch = Channel(channel)
    data: Any = payload
    if isinstance(payload, bytes | bytearray | str):
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError(f"bad {ch.value} payload: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PayloadError(f"bad {ch.value} payload: expected a JSON object, got {type(data).__name__}")
    try:
        return _MODELS[ch].validate_python(data)
    except ValidationError as exc:
        raise PayloadError(_describe(exc, ch)) from None


def parse_message(topic_name: str, payload: bytes | str) -> tuple[TopicParts, Any]:
    """Topic and payload together, as ingest receives them."""
    parts = parse_topic(topic_name)
    return parts, parse_payload(parts.channel, payload)


# --------------------------------------------------------------------------- instrument drivers

#: Entry-point group through which packages add drivers (``name = "module:Class"``). The class has a
#: ``Settings`` attribute, a pydantic model of the config section named after the driver (``device.sim``);
#: the agent validates that section with it and calls the class with the result. Its instances satisfy
#: :class:`Driver`.
DRIVER_ENTRY_POINTS = "pilotshare.drivers"

DriverValue = bool | int | float | str


class DriverError(Exception):
    """The instrument cannot be reached or answered nonsense; the agent reconnects with back-off."""


class CommandRefused(Exception):
    """The instrument (or the driver) refused a command; the message says why."""


class Driver(Protocol):
    name: str

    async def connect(self) -> None: ...

    async def read(self) -> dict[str, DriverValue]: ...

    async def command(self, action: str, args: dict[str, Any]) -> None:
        """Apply ``lock`` / ``unlock`` / ``setpoint``; CommandRefused or DriverError when it cannot."""
        ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, DriverValue]:
        """Static facts for the retained birth message."""
        ...
