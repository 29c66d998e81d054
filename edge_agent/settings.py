"""The edge agent's config file: YAML (``.yaml``/``.yml``), TOML (``.toml``) or JSON, validated by pydantic.

Every problem is reported with the key path that holds it, e.g.
``device.modbus.registers[2].scale: must be > 0``, so whoever edits the file beside the instrument knows
which line to fix. Unknown keys are refused too: a typo must not silently fall back to a default.
The format is documented in docs/edge-agent.md; examples live in ``edge_agent/examples/``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from edge_agent.protocol import CODE_PATTERN
from edge_agent.registry import BUILT_IN, driver_class

Code = Annotated[str, Field(pattern=CODE_PATTERN)]


def _not_reserved(name: str) -> str:
    if name == "time":
        raise ValueError("'time' is reserved (InfluxDB); choose another field name")
    return name


FieldName = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$"),
    AfterValidator(_not_reserved),
]


class ConfigError(ValueError):
    """A config file that cannot be used; the message names every bad key path and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- MQTT


class TlsSettings(_Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    #: skip the broker's host name check (self-signed lab brokers); the chain is still verified
    insecure: bool = False


#: Longest wait between two attempts to reach the broker: an outage must not cost more than this on recovery.
RECONNECT_CAP_S = 10.0


class MqttSettings(_Section):
    url: str = "mqtt://127.0.0.1:1883"
    #: the agent's own account; the broker refuses anonymous clients (``pilotshare mqtt credentials``)
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)
    tls: TlsSettings | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    #: MQTT client id; the agent id when empty
    client_id: str | None = None
    reconnect_min_s: float = Field(1.0, gt=0, le=RECONNECT_CAP_S)
    reconnect_max_s: float = Field(3.0, gt=0, le=RECONNECT_CAP_S)
    #: telemetry/event messages handed to the broker and not yet acknowledged, at most
    max_inflight: int = Field(50, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"scheme {parsed.scheme!r} is not mqtt:// or mqtts://")
        if not parsed.hostname:
            raise ValueError("has no host")
        try:
            parsed.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def host(self) -> str:
        return urlparse(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parsed = urlparse(self.url)
        return parsed.port or (8883 if self.uses_tls else 1883)

    @property
    def uses_tls(self) -> bool:
        return self.tls is not None or urlparse(self.url).scheme in ("mqtts", "ssl")


# --------------------------------------------------------------------------- drivers


RegisterType = Literal["uint16", "int16", "uint32", "int32", "float32"]
REGISTER_WORDS: dict[str, int] = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}


class ModbusRegister(_Section):
    """One signal: ``field = raw / scale``; ``enum`` maps the raw integer to text, ``bits`` splits a status
    word into boolean fields (``{field name: bit number}``)."""

    name: FieldName
    table: Literal["input", "holding"] = "input"
    address: int = Field(ge=0, le=65535)
    type: RegisterType = "int32"
    scale: float = Field(1.0, gt=0)
    unit: str = ""
    enum: list[str] | None = None
    bits: dict[FieldName, Annotated[int, Field(ge=0, le=31)]] | None = None

    @property
    def words(self) -> int:
        return REGISTER_WORDS[self.type]

    @model_validator(mode="after")
    def _one_decoding(self) -> ModbusRegister:
        if self.enum is not None and self.bits is not None:
            raise ValueError("give enum or bits, not both")
        if (self.enum is not None or self.bits is not None) and self.type == "float32":
            raise ValueError("enum and bits need an integer type")
        return self


class ModbusSetpoint(_Section):
    """A writable setpoint in holding registers, written as ``round(value * scale)``."""

    name: FieldName
    address: int = Field(ge=0, le=65535)
    type: Literal["uint16", "int16", "uint32", "int32"] = "int32"
    scale: float = Field(1.0, gt=0)
    low: float | None = None
    high: float | None = None


class ModbusCommands(_Section):
    """The instrument's command register: which value means lock / unlock."""

    address: int = Field(0, ge=0, le=65535)
    lock: int | None = Field(4, ge=0, le=65535)
    unlock: int | None = Field(5, ge=0, le=65535)


class ModbusSettings(_Section):
    host: str
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=255)
    timeout_s: float = Field(2.0, gt=0)
    word_order: Literal["big", "little"] = "big"
    registers: list[ModbusRegister] = Field(min_length=1)
    commands: ModbusCommands | None = None
    setpoints: list[ModbusSetpoint] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> ModbusSettings:
        seen: set[str] = set()
        for reg in self.registers:
            names = list(reg.bits) if reg.bits else [reg.name]
            for name in names:
                if name in seen:
                    raise ValueError(f"field {name!r} is mapped twice")
                seen.add(name)
        return self


class OpcUaNode(_Section):
    """One variable: ``field = value / scale`` for numbers; strings and booleans pass unchanged."""

    name: FieldName
    #: a NodeId string; without ``ns=`` the namespace of ``opcua.namespace`` is used, e.g. ``s=F5-1.ph``
    node: str = Field(min_length=3)
    scale: float = Field(1.0, gt=0)
    unit: str = ""


class OpcUaMethods(_Section):
    """Methods on ``object`` called for commands; ``setpoint`` takes (name: String, value: Double)."""

    object: str = Field(min_length=3)
    lock: str | None = "Lock"
    unlock: str | None = "Unlock"
    setpoint: str | None = "SetSetpoint"


class OpcUaSettings(_Section):
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    #: namespace URI whose index is looked up at connect (indices may change between server restarts)
    namespace: str | None = None
    timeout_s: float = Field(4.0, gt=0)
    username: str | None = None
    password: str | None = None
    nodes: list[OpcUaNode] = Field(min_length=1)
    methods: OpcUaMethods | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> OpcUaSettings:
        names = [n.name for n in self.nodes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"field {dupes[0]!r} is mapped twice")
        if self.namespace is None and any(not n.node.startswith(("ns=", "i=")) for n in self.nodes):
            raise ValueError("node ids without ns= need opcua.namespace")
        return self


class DeviceSettings(BaseModel):
    """``driver`` names a built-in driver (``opcua``, ``modbus``, with the typed sections below) or one an
    installed package registers (see ``edge_agent.drivers``); such a driver gets the section of its own
    name as it is written (e.g. ``device.sim``) and checks it itself."""

    model_config = ConfigDict(extra="allow", frozen=True)

    driver: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    _section: Any = PrivateAttr(None)
    opcua: OpcUaSettings | None = None
    modbus: ModbusSettings | None = None
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)

    @field_validator("driver")
    @classmethod
    def _installed(cls, name: str) -> str:
        driver_class(name)
        return name

    @model_validator(mode="after")
    def _driver_section(self) -> DeviceSettings:
        strangers = sorted(set(self.model_extra or {}) - {self.driver})
        if strangers:
            raise ValueError(f"unknown section device.{strangers[0]} (driver is {self.driver!r})")
        if self.driver in BUILT_IN:
            if getattr(self, self.driver) is None:
                raise ValueError(f"driver {self.driver!r} needs a device.{self.driver} section")
            self._section = getattr(self, self.driver)
            return self
        model = driver_class(self.driver).Settings
        try:
            self._section = model.model_validate((self.model_extra or {}).get(self.driver) or {})
        except ValidationError as exc:
            where = "; ".join(describe_errors(exc, f"device.{self.driver}"))
            raise ValueError(where) from None
        return self

    def section(self) -> Any:
        """The driver's validated config section."""
        return self._section


# --------------------------------------------------------------------------- agent


class SamplingSettings(_Section):
    hz: float = Field(1.0, gt=0, le=1000)
    #: samples are published together every batch_interval_s
    batch_interval_s: float = Field(1.0, gt=0, le=3600)


class BufferSettings(_Section):
    #: folder of the SQLite buffer file (created if missing)
    dir: Path = Path(".var/edge-agent")
    #: size cap of buffered payloads; above it the oldest messages are dropped (counted and logged)
    max_mb: float = Field(100.0, gt=0)

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)


class AgentSettings(_Section):
    agent_id: str = Field(min_length=1, max_length=128)
    platform: Code
    resource: Code
    mqtt: MqttSettings
    device: DeviceSettings
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    buffer: BufferSettings = Field(default_factory=BufferSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


# --------------------------------------------------------------------------- loading and errors

_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "missing": "is required",
    "extra_forbidden": "unknown key",
    "string_pattern_mismatch": "{input!r} does not match {pattern}",
    "too_short": "needs at least {min_length} item(s)",
}


def describe_errors(exc: ValidationError, prefix: str = "") -> list[str]:
    """``key.path[i].name: why`` for every error of a validation (paths start with `prefix`)."""
    problems = []
    for err in exc.errors(include_url=False):
        path = prefix
        for part in err["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                path += f".{part}" if path else str(part)
        template = _MESSAGES.get(err["type"])
        if template is not None:
            try:
                msg = template.format(input=err.get("input"), **err.get("ctx", {}))
            except (KeyError, IndexError):
                msg = err["msg"]
        else:
            msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{path or '(file)'}: {msg}")
    return problems


def parse_settings(data: Any, source: str = "config") -> AgentSettings:
    """Validate already-parsed config data; ConfigError names each bad key path."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    try:
        return AgentSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + "; ".join(describe_errors(exc))) from None


def load_settings(path: Path) -> AgentSettings:
    """Read and validate a config file; its format is chosen by the file extension."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"{path}: unknown format {suffix!r} (use .yaml, .toml or .json)")
    except ConfigError:
        raise
    except Exception as exc:  # the parsers raise their own error types; all mean "not valid syntax"
        raise ConfigError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from None
    return parse_settings(data, str(path))
