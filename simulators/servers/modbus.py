"""Modbus TCP server for one device (pymodbus 3.x SimDevice API). Register map: docs/simulators.md.

All analog values are signed 32-bit integers, big-endian (high word first), ``round(value * scale)``
with the per-signal scale from the device's signal table. Values are computed when a request arrives, so
a client always reads the device's latest tick.

Input registers (function 4):
  0      status word (bit 0 powered, 1 running, 2 setup, 3 cleaning, 4 fault, 5 maintenance, 6 alarm,
         7 locked, 8 idle)
  1      state code (0 idle, 1 setup, 2 running, 3 cleaning, 4 fault, 5 maintenance)
  2      phase code (index into the device type's phase list)
  3      heartbeat (device ticks served, modulo 65536)
  4-5    power_kw x 1000
  6+2i   signal i x its scale
Holding registers (functions 3, 6, 16):
  0      command: write 1 start run, 2 stop run, 3 reset fault, 4 lock, 5 unlock,
         6 maintenance on, 7 maintenance off; simulator only: 10 inject sensor drift, 11 stuck value,
         12 over-temperature, 13 power loss, 14 the type's process fault (3 clears them);
         reads back the last command
  1      result of the last command (0 ok, 1 refused)
  2+2j   setpoint j x its scale (write both words with function 16)
"""

from __future__ import annotations

from typing import Any

from simulators.devices.base import STATES, Device, DeviceError

STATUS_BITS = {
    "powered": 0,
    "running": 1,
    "setup": 2,
    "cleaning": 3,
    "fault": 4,
    "maintenance": 5,
    "alarm": 6,
    "locked": 7,
    "idle": 8,
}
COMMANDS = {
    1: "start",
    2: "stop",
    3: "reset",
    4: "lock",
    5: "unlock",
    6: "maintenance_on",
    7: "maintenance_off",
    # simulator only: fault injection, so a demo or test can break an instrument through its own protocol
    10: "fault:sensor_drift",
    11: "fault:stuck_value",
    12: "fault:over_temperature",
    13: "fault:power_loss",
    14: "fault:process",  # the instrument's own process fault (column clog, vacuum leak, ...)
}
IR_SIGNALS = 6
HR_SETPOINTS = 2


def register_map(device_type: str) -> dict[str, Any]:
    """The register map of one device type as data, e.g. to generate an edge agent's Modbus config."""
    from simulators.devices import DEVICE_TYPES

    cls = DEVICE_TYPES[device_type]
    common = [
        {"address": 0, "count": 1, "name": "status_word", "type": "uint16", "bits": STATUS_BITS},
        {"address": 1, "count": 1, "name": "state", "type": "uint16", "enum": list(STATES)},
        {"address": 2, "count": 1, "name": "phase", "type": "uint16", "enum": list(cls.phase_names)},
        {"address": 3, "count": 1, "name": "heartbeat", "type": "uint16"},
        {"address": 4, "count": 2, "name": "power_kw", "type": "int32", "scale": 1000, "unit": "kW"},
    ]
    signals = [
        {
            "address": IR_SIGNALS + 2 * i,
            "count": 2,
            "name": s.name,
            "type": "int32",
            "scale": s.scale,
            "unit": s.unit,
        }
        for i, s in enumerate(cls.signals)
    ]
    setpoints = [
        {
            "address": HR_SETPOINTS + 2 * j,
            "count": 2,
            "name": sp.name,
            "type": "int32",
            "scale": sp.scale,
            "unit": sp.unit,
            "range": [sp.low, sp.high],
        }
        for j, sp in enumerate(cls.setpoint_specs)
    ]
    return {
        "device_type": device_type,
        "word_order": "big",
        "input_registers": common + signals,
        "holding_registers": [
            {"address": 0, "count": 1, "name": "command", "type": "uint16", "enum": COMMANDS},
            {"address": 1, "count": 1, "name": "command_result", "type": "uint16"},
            *setpoints,
        ],
    }


def to_words(value: float, scale: int) -> tuple[int, int]:
    raw = round(value * scale)
    raw = max(-(2**31), min(2**31 - 1, raw))
    raw &= 0xFFFFFFFF
    return raw >> 16, raw & 0xFFFF


def from_words(high: int, low: int, scale: int) -> float:
    raw = (high << 16) | low
    if raw >= 2**31:
        raw -= 2**32
    return raw / scale


def status_word(fields: dict[str, Any], powered: bool) -> int:
    word = 0
    state = str(fields["state"])
    flags = {
        "powered": powered,
        "alarm": bool(fields.get("alarm", False)),
        "locked": bool(fields.get("locked", False)),
        state: True,
    }
    for name, on in flags.items():
        if on and name in STATUS_BITS:
            word |= 1 << STATUS_BITS[name]
    return word


def input_registers(device: Device, heartbeat: int) -> list[int]:
    fields = device.read()
    regs = [
        status_word(fields, device.powered),
        STATES.index(device.state),
        device.phase_names.index(device.phase) if device.phase in device.phase_names else 0xFFFF,
        heartbeat & 0xFFFF,
        *to_words(float(fields.get("power_kw", 0.0)), 1000),
    ]
    for s in device.signals:
        regs += to_words(float(fields.get(s.name, 0.0)), s.scale)
    return regs


def holding_registers(device: Device, last_command: int, last_result: int) -> list[int]:
    regs = [last_command, last_result]
    for sp in device.setpoint_specs:
        regs += to_words(device.setpoints[sp.name], sp.scale)
    return regs


def run_command(device: Device, code: int) -> None:
    name = COMMANDS.get(code)
    if name is None:
        raise DeviceError(f"unknown command code {code}")
    if name == "start":
        device.start_run()
    elif name == "stop":
        device.stop_run()
    elif name == "reset":
        device.reset()
    elif name in ("lock", "unlock"):
        device.handle_command(name)
    elif name == "fault:process":
        if not device.process_faults:
            raise DeviceError(f"{device.code} has no process fault")
        device.inject_fault(device.process_faults[0])
    elif name.startswith("fault:"):
        device.inject_fault(name[6:])
    else:
        device.set_maintenance(name == "maintenance_on")


class ModbusDeviceServer:
    def __init__(self, device: Device, host: str = "127.0.0.1", port: int = 5020, device_id: int = 1) -> None:
        self.device = device
        self.host = host
        self.port = port
        self.device_id = device_id
        self.heartbeat = 0
        self.last_command = 0
        self.last_result = 0
        self._server: Any = None

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> Any:
        from pymodbus.constants import ExcCodes

        if function_code == 4:
            regs = input_registers(self.device, self.heartbeat)
            registers[: len(regs)] = regs
            return None
        if function_code in (6, 16) and set_values is not None:
            try:
                self._write(address, [int(v) for v in set_values])
            except DeviceError:
                self.last_result = 1
                return ExcCodes.ILLEGAL_VALUE
            except IndexError:
                return ExcCodes.ILLEGAL_ADDRESS
        regs = holding_registers(self.device, self.last_command, self.last_result)
        registers[: len(regs)] = regs
        return None

    def _write(self, address: int, values: list[int]) -> None:
        for offset, value in enumerate(values):
            reg = address + offset
            if reg == 0:
                self.last_command = value
                run_command(self.device, value)
                self.last_result = 0
            elif reg == 1:
                continue  # read-only result
            else:
                j, word = divmod(reg - HR_SETPOINTS, 2)
                if word == 1:
                    continue  # low word handled with its high word
                if offset + 1 >= len(values):
                    raise DeviceError("setpoints are 32-bit: write both registers with function 16")
                spec = self.device.setpoint_specs[j]
                self.device.set_setpoint(spec.name, from_words(value, values[offset + 1], spec.scale))
                self.last_result = 0

    async def start(self) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        n_ir = IR_SIGNALS + 2 * len(self.device.signals)
        n_hr = HR_SETPOINTS + 2 * len(self.device.setpoint_specs)
        simdata = (
            [SimData(0, values=False, datatype=DataType.BITS)],
            [SimData(0, values=False, datatype=DataType.BITS)],
            [SimData(0, count=n_hr, values=0, datatype=DataType.REGISTERS)],
            [SimData(0, count=n_ir, values=0, datatype=DataType.REGISTERS)],
        )
        sim = SimDevice(self.device_id, simdata=simdata, action=self._action)
        self._server = ModbusTcpServer(sim, address=(self.host, self.port))
        await self._server.serve_forever(background=True)

    async def update(self) -> None:
        self.heartbeat += 1  # values themselves are computed per request

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None
