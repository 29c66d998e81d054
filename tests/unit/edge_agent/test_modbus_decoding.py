"""Modbus signals: words to engineering values per the map, and setpoints back to words."""

from __future__ import annotations

import math

import pytest

from edge_agent.drivers.modbus import ModbusDriver, decode, encode, spans
from edge_agent.protocol import CommandRefused
from edge_agent.settings import ModbusRegister, ModbusSetpoint, ModbusSettings
from simulators.servers.modbus import STATUS_BITS, status_word, to_words


def reg(**kw: object) -> ModbusRegister:
    return ModbusRegister.model_validate({"name": "x", "address": 0, **kw})


@pytest.mark.parametrize("value", [0.0, 21.37, -40.25, 121.0, -0.01, 21474.83])
def test_int32_scaled_matches_the_simulators_encoding(value: float) -> None:
    words = list(to_words(value, 100))
    assert decode(reg(type="int32", scale=100), words) == {"x": pytest.approx(value, abs=0.005)}


def test_word_order_and_signed_16_bit() -> None:
    assert decode(reg(type="int32"), [0x0001, 0x0002]) == {"x": 0x00010002}
    assert decode(reg(type="int32"), [0x0002, 0x0001], "little") == {"x": 0x00010002}
    assert decode(reg(type="int16", scale=10), [0xFFFF]) == {"x": -0.1}
    assert decode(reg(type="uint16"), [0xFFFF]) == {"x": 65535}
    assert decode(reg(type="uint32"), [0xFFFF, 0xFFFF]) == {"x": 2**32 - 1}


def test_float32() -> None:
    import struct

    raw = struct.unpack(">HH", struct.pack(">f", 3.5))
    assert decode(reg(type="float32"), list(raw)) == {"x": 3.5}
    nan = decode(reg(type="float32"), [0x7FC0, 0x0000])["x"]
    assert isinstance(nan, float) and math.isnan(nan)  # the agent drops it before publishing


def test_enum_and_unknown_codes() -> None:
    r = reg(type="uint16", enum=["idle", "setup", "running"])
    assert decode(r, [2]) == {"x": "running"}
    assert decode(r, [9]) == {"x": "unknown(9)"}


def test_status_word_bits_become_booleans() -> None:
    word = status_word({"state": "running", "alarm": True, "locked": False}, powered=True)
    r = reg(type="uint16", bits={"powered": 0, "running": 1, "alarm": 6, "locked": 7})
    assert decode(r, [word]) == {"powered": True, "running": True, "alarm": True, "locked": False}
    assert STATUS_BITS["locked"] == 7


def test_setpoints_encode_like_the_simulator_expects() -> None:
    sp = ModbusSetpoint(name="t", address=2, type="int32", scale=100)
    assert encode(sp, -12.34) == list(to_words(-12.34, 100))
    assert encode(sp, 37.5, "little") == list(reversed(to_words(37.5, 100)))
    with pytest.raises(CommandRefused, match="does not fit"):
        encode(ModbusSetpoint(name="t", address=2, type="uint16", scale=1), -1)


def test_reads_are_grouped_into_few_requests() -> None:
    regs = [
        reg(address=0, type="uint16"),
        reg(address=4, type="int32"),
        reg(address=20, type="int32"),
        reg(address=200, type="int32"),
        reg(address=1, type="uint16", table="holding"),
    ]
    assert spans(regs, "input") == [(0, 6), (20, 2), (200, 2)]
    assert spans(regs, "holding") == [(1, 1)]
    many = [reg(address=a, type="uint16") for a in range(0, 300)]
    assert all(count <= 125 for _, count in spans(many, "input"))
    assert sum(count for _, count in spans(many, "input")) == 300


def test_the_birth_declares_the_setpoints_and_their_limits() -> None:
    settings = ModbusSettings.model_validate(
        {
            "host": "10.0.0.5",
            "registers": [{"name": "temperature_c", "address": 6}],
            "setpoints": [
                {"name": "temperature_sp_c", "address": 2, "low": 4, "high": 60},
                {"name": "rpm_sp", "address": 4, "high": 1200.5},
            ],
        }
    )
    facts = ModbusDriver(settings).describe()
    assert facts["setpoints"] == "temperature_sp_c,rpm_sp"
    assert facts["setpoint_limits"] == "temperature_sp_c[4..60],rpm_sp[..1200.5]"
