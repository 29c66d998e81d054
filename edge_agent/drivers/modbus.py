"""Modbus TCP driver (pymodbus 3.x async client).

Each read fetches every mapped table in as few requests as possible (contiguous spans of at most 125
registers) and decodes the signals per the map: 16/32-bit integers or float32 in the configured word
order, ``field = raw / scale``, enums to text, status-word bits to booleans. Commands write the command
register (lock/unlock codes) or a setpoint's registers in one function-16 request; a Modbus exception
answer means the instrument refused.
"""

from __future__ import annotations

import struct
from typing import Any

from edge_agent.protocol import CommandRefused, DriverError, DriverValue
from edge_agent.settings import REGISTER_WORDS, ModbusRegister, ModbusSetpoint, ModbusSettings

MAX_READ = 125  # registers per Modbus read request


def spans(registers: list[ModbusRegister], table: str) -> list[tuple[int, int]]:
    """(start, count) read requests covering every register of one table; gaps of up to 8 are read through."""
    wanted = sorted((r.address, r.address + r.words) for r in registers if r.table == table)
    out: list[list[int]] = []
    for start, end in wanted:
        if out and start <= out[-1][1] + 8 and end - out[-1][0] <= MAX_READ:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e - s) for s, e in out]


def combine(words: list[int], word_order: str) -> int:
    """Unsigned integer from 16-bit words (high word first when ``word_order`` is big)."""
    if word_order == "little":
        words = list(reversed(words))
    raw = 0
    for w in words:
        raw = (raw << 16) | (w & 0xFFFF)
    return raw


def decode(reg: ModbusRegister, words: list[int], word_order: str = "big") -> dict[str, DriverValue]:
    """The fields one mapped register (pair) yields."""
    raw = combine(words, word_order)
    if reg.type == "float32":
        value: float = struct.unpack(">f", raw.to_bytes(4, "big"))[0]
        return {reg.name: value / reg.scale if reg.scale != 1 else value}
    bits = 16 * reg.words
    if reg.type in ("int16", "int32") and raw >= 1 << (bits - 1):
        raw -= 1 << bits
    if reg.bits is not None:
        return {name: bool(raw >> bit & 1) for name, bit in reg.bits.items()}
    if reg.enum is not None:
        return {reg.name: reg.enum[raw] if 0 <= raw < len(reg.enum) else f"unknown({raw})"}
    if reg.scale == 1:
        return {reg.name: raw}
    return {reg.name: raw / reg.scale}


def encode(spec: ModbusSetpoint, value: float, word_order: str = "big") -> list[int]:
    """Registers for a setpoint: ``round(value * scale)`` as 16 or 32 bits."""
    raw = round(value * spec.scale)
    words = REGISTER_WORDS[spec.type]
    bits = 16 * words
    signed = spec.type.startswith("int")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= raw <= hi:
        raise CommandRefused(f"setpoint {spec.name}: {value} does not fit {spec.type} at scale {spec.scale}")
    raw &= (1 << bits) - 1
    out = [(raw >> (16 * (words - 1 - i))) & 0xFFFF for i in range(words)]
    return list(reversed(out)) if word_order == "little" else out


def _bound(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class ModbusDriver:
    name = "modbus"

    def __init__(self, settings: ModbusSettings) -> None:
        self.settings = settings
        self._client: Any = None
        self._spans = {table: spans(settings.registers, table) for table in ("input", "holding")}

    async def connect(self) -> None:
        from pymodbus.client import AsyncModbusTcpClient

        await self.close()
        s = self.settings
        # reconnect_delay 0: the agent owns the back-off policy, so pymodbus must not reconnect on its own
        client = AsyncModbusTcpClient(s.host, port=s.port, timeout=s.timeout_s, retries=0, reconnect_delay=0)
        try:
            ok = await client.connect()
        except Exception as exc:
            client.close()
            raise DriverError(f"modbus {s.host}:{s.port}: {exc}") from exc
        if not ok:
            client.close()
            raise DriverError(f"modbus {s.host}:{s.port}: connection refused or timed out")
        self._client = client

    async def _read_table(self, table: str) -> dict[int, int]:
        values: dict[int, int] = {}
        for start, count in self._spans[table]:
            c = self._client
            fn = c.read_input_registers if table == "input" else c.read_holding_registers
            try:
                rr = await fn(start, count=count, device_id=self.settings.unit)
            except Exception as exc:
                raise DriverError(f"modbus read {table} {start}+{count}: {exc}") from exc
            if rr.isError():
                raise DriverError(f"modbus read {table} {start}+{count}: {rr}")
            values.update(zip(range(start, start + count), rr.registers, strict=False))
        return values

    async def read(self) -> dict[str, DriverValue]:
        if self._client is None or not self._client.connected:
            raise DriverError("modbus: not connected")
        tables = {t: await self._read_table(t) for t in ("input", "holding") if self._spans[t]}
        fields: dict[str, DriverValue] = {}
        for reg in self.settings.registers:
            table = tables[reg.table]
            try:
                words = [table[reg.address + i] for i in range(reg.words)]
            except KeyError as exc:
                raise DriverError(f"modbus: register {exc} missing from the answer") from None
            fields.update(decode(reg, words, self.settings.word_order))
        return fields

    async def command(self, action: str, args: dict[str, Any]) -> None:
        if self._client is None or not self._client.connected:
            raise DriverError("instrument offline (modbus not connected)")
        if action in ("lock", "unlock"):
            cmds = self.settings.commands
            code = getattr(cmds, action) if cmds else None
            if cmds is None or code is None:
                raise CommandRefused(f"{action} is not configured (device.modbus.commands.{action})")
            await self._write(cmds.address, [code], f"{action} (command {code})")
            return
        if action == "setpoint":
            for name, value in args.items():
                spec = next((s for s in self.settings.setpoints if s.name == name), None)
                if spec is None:
                    known = ", ".join(s.name for s in self.settings.setpoints) or "none"
                    raise CommandRefused(f"unknown setpoint {name!r} (configured: {known})")
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise CommandRefused(f"setpoint {name}: {value!r} is not a number")
                too_low = spec.low is not None and value < spec.low
                if too_low or (spec.high is not None and value > spec.high):
                    raise CommandRefused(f"setpoint {name}: {value} outside {spec.low}..{spec.high}")
                words = encode(spec, value, self.settings.word_order)
                await self._write(spec.address, words, f"setpoint {name}")
            return
        raise CommandRefused(f"unknown action {action!r}")

    async def _write(self, address: int, values: list[int], what: str) -> None:
        try:
            rr = await self._client.write_registers(address, values, device_id=self.settings.unit)
        except Exception as exc:
            raise DriverError(f"modbus write {what}: {exc}") from exc
        if rr.isError():
            raise CommandRefused(f"instrument refused {what}: {rr}")

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def describe(self) -> dict[str, DriverValue]:
        """The endpoint, and the setpoints with their limits as the platform reads them from the birth
        message (``"temperature_sp_c[4..60]"``; docs/commands.md) to refuse a wrong one before sending it."""
        s = self.settings
        facts: dict[str, DriverValue] = {"driver": "modbus", "endpoint": f"{s.host}:{s.port}/{s.unit}"}
        if s.setpoints:
            facts["setpoints"] = ",".join(sp.name for sp in s.setpoints)
            facts["setpoint_limits"] = ",".join(
                f"{sp.name}[{_bound(sp.low)}..{_bound(sp.high)}]" for sp in s.setpoints
            )
        return facts
