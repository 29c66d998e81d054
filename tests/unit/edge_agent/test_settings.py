"""The agent's config file: every mistake is reported with the key path that holds it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent.settings import ConfigError, load_settings, parse_settings

EXAMPLES = Path(__file__).resolve().parents[3] / "edge_agent" / "examples"

MODBUS: dict[str, Any] = {
    "agent_id": "edge-1",
    "platform": "jinan-bio",
    "resource": "F5-1",
    "mqtt": {"url": "mqtt://127.0.0.1:1883", "username": "agent/jinan-bio/F5-1", "password": "s3cret"},
    "device": {
        "driver": "modbus",
        "modbus": {
            "host": "127.0.0.1",
            "port": 5020,
            "registers": [
                {"name": "state", "address": 1, "type": "uint16", "enum": ["idle", "running"]},
                {"name": "power_kw", "address": 4, "scale": 1000},
                {"name": "temperature_c", "address": 6, "scale": 100, "unit": "°C"},
            ],
        },
    },
}


def broken(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(MODBUS)
    node: Any = data
    keys = [int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return data


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    return str(info.value)


def test_a_good_config_has_defaults_for_the_rest() -> None:
    s = parse_settings(MODBUS)
    assert s.device.modbus is not None and s.device.modbus.registers[2].scale == 100
    assert s.sampling.hz == 1 and s.buffer.max_bytes == 100 * 1024 * 1024
    assert (s.mqtt.host, s.mqtt.port, s.mqtt.uses_tls) == ("127.0.0.1", 1883, False)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("device.modbus.registers[2].scale", 0, "device.modbus.registers[2].scale: must be > 0"),
        ("device.modbus.registers[1].address", -1, "device.modbus.registers[1].address: must be >= 0"),
        ("device.modbus.registers[0].type", "int64", "device.modbus.registers[0].type: Input should be"),
        ("device.modbus.port", 70000, "device.modbus.port: must be <= 65535"),
        ("device.driver", "profinet", "device.driver: no driver named 'profinet' is installed (installed:"),
        ("platform", "jinan bio", "platform: 'jinan bio' does not match"),
        ("mqtt.url", "http://x:1883", "mqtt.url: scheme 'http' is not mqtt:// or mqtts://"),
        ("sampling", {"hz": 0}, "sampling.hz: must be > 0"),
        ("buffer", {"max_mb": -5}, "buffer.max_mb: must be > 0"),
        ("device.modbus.registers", [], "device.modbus.registers: needs at least 1 item(s)"),
        ("device.modbus.registres", [], "device.modbus.registres: unknown key"),
        ("device.modbus.registers[0].name", "time", "registers[0].name: 'time' is reserved (InfluxDB)"),
        ("mqtt.reconnect_max_s", 30, "mqtt.reconnect_max_s: must be <= 10"),
        ("mqtt", {"url": "mqtt://127.0.0.1:1883"}, "mqtt.username: is required; mqtt.password: is required"),
    ],
)
def test_errors_name_the_key_path_and_why(path: str, value: Any, expected: str) -> None:
    assert expected in error_of(broken(path, value))


def test_missing_keys_and_driver_sections_are_named() -> None:
    data = copy.deepcopy(MODBUS)
    del data["agent_id"]
    data["device"] = {"driver": "opcua"}
    msg = error_of(data)
    assert "agent_id: is required" in msg
    assert "device: driver 'opcua' needs a device.opcua section" in msg


def test_a_field_mapped_twice_is_refused() -> None:
    regs = [*MODBUS["device"]["modbus"]["registers"], {"name": "state", "address": 9}]
    assert "field 'state' is mapped twice" in error_of(broken("device.modbus.registers", regs))


def test_enum_and_bits_together_are_refused() -> None:
    reg = {"name": "sw", "address": 0, "type": "uint16", "enum": ["a"], "bits": {"x": 1}}
    assert "device.modbus.registers[0]: give enum or bits, not both" in error_of(
        broken("device.modbus.registers", [reg])
    )


def test_opcua_nodes_without_namespace_need_the_namespace_uri() -> None:
    data = copy.deepcopy(MODBUS)
    data["device"] = {
        "driver": "opcua",
        "opcua": {"endpoint": "opc.tcp://h:4840/", "nodes": [{"name": "t", "node": "s=X.t"}]},
    }
    assert "device.opcua: node ids without ns= need opcua.namespace" in error_of(data)


def test_every_shipped_example_loads() -> None:
    drivers = {load_settings(p).device.driver for p in EXAMPLES.iterdir()}
    assert drivers == {"modbus", "opcua", "sim"}


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
def test_files_in_each_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"agent{suffix}"
    mqtt = {"username": "agent/p/r", "password": "pw"}
    data = {"agent_id": "a", "platform": "p", "resource": "r", "mqtt": mqtt, "device": {"driver": "sim"}}
    if suffix == ".yaml":
        import yaml

        path.write_text(yaml.safe_dump(data))
    elif suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text(
            'agent_id = "a"\nplatform = "p"\nresource = "r"\n[device]\ndriver = "sim"\n'
            '[mqtt]\nusername = "agent/p/r"\npassword = "pw"\n'
        )
    s = load_settings(path)
    assert s.device.section().device_type == "fermenter"  # the sim driver's defaults


def test_unreadable_or_malformed_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("agent_id: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad)
    ini = tmp_path / "agent.ini"
    ini.write_text("x")
    with pytest.raises(ConfigError, match="unknown format"):
        load_settings(ini)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="mapping of keys"):
        load_settings(listing)


def test_a_plug_in_driver_checks_its_own_section(tmp_path: Path) -> None:
    """The simulators' ``sim`` driver is found through its entry point, and its section is validated by
    its own settings model, with the key path in the message."""
    data: dict[str, Any] = {"agent_id": "a", "platform": "p", "resource": "r"}
    data["device"] = {"driver": "sim", "sim": {"speed": 0}}
    with pytest.raises(ConfigError, match=r"device\.sim\.speed: "):
        parse_settings(data)
    data["device"] = {"driver": "sim", "sim": {"device_type": "furnace"}, "modbus_typo": {}}
    with pytest.raises(ConfigError, match=r"unknown section device\.modbus_typo"):
        parse_settings(data)
