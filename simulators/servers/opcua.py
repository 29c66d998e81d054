"""OPC UA server (asyncua) hosting one object per device. Address space: docs/simulators.md.

Endpoint ``opc.tcp://{host}:{port}/pilotshare/``, no security (a lab network simulator), namespace
``urn:pilotshare:simulators``. Under ``Objects/PilotShare`` each device is an object whose NodeId is
``ns=2;s={code}``; its variables are ``ns=2;s={code}.{signal}`` with an ``EngineeringUnits`` property
(UNECE code where one exists), plus ``State``, ``Phase``, ``PowerKw``, ``Locked``, ``Alarm``, and
``Setpoints/{name}``. Methods ``StartRun``, ``StopRun``, ``Reset``, ``Lock``, ``Unlock``,
``SetSetpoint(name, value)`` and (simulator only) ``InjectFault(kind)`` act on the device; a refused call
returns ``BadInvalidState`` or ``BadInvalidArgument`` with the reason in the log.
"""

# asyncua's annotations name its NewType aliases (String, Int16, UInt32...) that plain str/int satisfy at
# run time; checking them here would only add casts.
# mypy: disable-error-code="arg-type,attr-defined"
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from simulators.devices.base import Device, DeviceError

log = logging.getLogger(__name__)

NAMESPACE = "urn:pilotshare:simulators"
UNECE_NS = "http://www.opcfoundation.org/UA/units/un/cefact"
# UNECE Recommendation 20 common codes for the units the devices use
UNECE = {
    "°C": ("CEL", "degree Celsius"),
    "kW": ("KWT", "kilowatt"),
    "W": ("WTT", "watt"),
    "rpm": ("RPM", "revolutions per minute"),
    "Pa": ("PAL", "pascal"),
    "bar": ("BAR", "bar"),
    "%": ("P1", "percent"),
    "L/h": ("E32", "litre per hour"),
    "L/min": ("L2", "litre per minute"),
    "mL/min": ("41", "millilitre per minute"),
    "mL": ("MLT", "millilitre"),
    "kg": ("KGM", "kilogram"),
    "ppm": ("59", "part per million"),
}


def unece_id(code: str) -> int:
    value = 0
    for ch in code:
        value = (value << 8) | ord(ch)
    return value


def served_fields(device: Device) -> dict[str, Any]:
    """The device's fields with every served variable present and typed (a bare CSV may lack some)."""
    fields = device.read()
    out: dict[str, Any] = {
        "state": str(fields.get("state", device.state)),
        "phase": str(fields.get("phase", device.phase)),
        "power_kw": float(fields.get("power_kw", device.power_kw)),
        "locked": bool(fields.get("locked", device.locked)),
        "alarm": bool(fields.get("alarm", bool(device.alarms))),
    }
    for s in device.signals:
        value = fields.get(s.name, 0.0)
        out[s.name] = float(value) if isinstance(value, int | float) else 0.0
    return out


class OpcUaDeviceServer:
    def __init__(self, devices: list[Device], host: str = "127.0.0.1", port: int = 4840) -> None:
        self.devices = devices
        self.host = host
        self.port = port
        self.endpoint = f"opc.tcp://{host}:{port}/pilotshare/"
        self._server: Any = None
        self._nodes: list[tuple[Device, list[tuple[str, Any, Any]]]] = []
        self._last: dict[Any, Any] = {}

    async def start(self) -> None:
        from asyncua import Server, ua

        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("PilotShare simulated instruments")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NAMESPACE)
        folder = await server.nodes.objects.add_folder(
            ua.NodeId("PilotShare", idx), ua.QualifiedName("PilotShare", idx)
        )
        for device in self.devices:
            self._nodes.append((device, await self._add_device(server, folder, idx, device)))
        await server.start()
        self._server = server
        await self.update()

    async def _add_device(
        self, server: Any, folder: Any, idx: int, device: Device
    ) -> list[tuple[str, Any, Any]]:
        from asyncua import ua

        code = device.code
        obj = await folder.add_object(ua.NodeId(code, idx), ua.QualifiedName(code, idx))
        await obj.add_property(
            ua.NodeId(f"{code}.DeviceType", idx), ua.QualifiedName("DeviceType", idx), device.device_type
        )
        fields = served_fields(device)
        nodes: list[tuple[str, Any, Any]] = []

        async def var(name: str, browse: str, value: Any, vtype: Any, unit: str = "", desc: str = "") -> Any:
            node = await obj.add_variable(
                ua.NodeId(f"{code}.{browse}", idx), ua.QualifiedName(browse, idx), ua.Variant(value, vtype)
            )
            if desc:
                await node.write_attribute(
                    ua.AttributeIds.Description,
                    ua.DataValue(ua.Variant(ua.LocalizedText(desc), ua.VariantType.LocalizedText)),
                )
            if unit:
                uc, uname = UNECE.get(unit, ("", unit))
                eu = ua.EUInformation(
                    NamespaceUri=UNECE_NS,
                    UnitId=unece_id(uc) if uc else -1,
                    DisplayName=ua.LocalizedText(unit),
                    Description=ua.LocalizedText(uname),
                )
                await node.add_property(
                    ua.NodeId(f"{code}.{browse}.EngineeringUnits", idx),
                    ua.QualifiedName("EngineeringUnits", 0),
                    eu,
                )
            nodes.append((name, node.nodeid, vtype))
            return node

        await var(
            "state",
            "State",
            str(fields["state"]),
            ua.VariantType.String,
            desc="idle|setup|running|cleaning|fault|maintenance",
        )
        await var(
            "phase",
            "Phase",
            str(fields["phase"]),
            ua.VariantType.String,
            desc="device-specific phase of the run",
        )
        await var(
            "power_kw",
            "PowerKw",
            float(fields["power_kw"]),
            ua.VariantType.Double,
            "kW",
            "electrical power draw",
        )
        await var(
            "locked", "Locked", bool(fields["locked"]), ua.VariantType.Boolean, desc="interlock: runs refused"
        )
        await var("alarm", "Alarm", bool(fields["alarm"]), ua.VariantType.Boolean, desc="any alarm active")
        for s in device.signals:
            await var(s.name, s.name, float(fields[s.name]), ua.VariantType.Double, s.unit, s.description)
        sp_obj = await obj.add_object(ua.NodeId(f"{code}.Setpoints", idx), ua.QualifiedName("Setpoints", idx))
        for sp in device.setpoint_specs:
            node = await sp_obj.add_variable(
                ua.NodeId(f"{code}.Setpoints.{sp.name}", idx),
                ua.QualifiedName(sp.name, idx),
                ua.Variant(device.setpoints[sp.name], ua.VariantType.Double),
            )
            nodes.append((f"setpoint:{sp.name}", node.nodeid, ua.VariantType.Double))
        await self._add_methods(obj, idx, device)
        return nodes

    async def _add_methods(self, obj: Any, idx: int, device: Device) -> None:
        from asyncua import ua

        def guarded(fn: Any) -> Any:
            # async so asyncua runs it on the event loop, not in a worker thread beside the ticker
            async def call(parent: Any, *args: Any) -> Any:
                try:
                    fn(*[a.Value for a in args])
                except DeviceError as exc:
                    log.info("%s: refused: %s", device.code, exc)
                    return ua.StatusCode(ua.StatusCodes.BadInvalidState)
                except (TypeError, ValueError) as exc:
                    log.info("%s: bad arguments: %s", device.code, exc)
                    return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
                return []

            return call

        code = device.code
        simple = {
            "StartRun": device.start_run,
            "StopRun": device.stop_run,
            "Reset": device.reset,
            "Lock": lambda: device.handle_command("lock"),
            "Unlock": lambda: device.handle_command("unlock"),
        }
        for name, fn in simple.items():
            await obj.add_method(
                ua.NodeId(f"{code}.{name}", idx), ua.QualifiedName(name, idx), guarded(fn), [], []
            )
        await obj.add_method(
            ua.NodeId(f"{code}.InjectFault", idx),
            ua.QualifiedName("InjectFault", idx),
            guarded(device.inject_fault),
            [ua.VariantType.String],
            [],
        )
        await obj.add_method(
            ua.NodeId(f"{code}.SetSetpoint", idx),
            ua.QualifiedName("SetSetpoint", idx),
            guarded(device.set_setpoint),
            [ua.VariantType.String, ua.VariantType.Double],
            [],
        )

    async def update(self) -> None:
        """Write every changed value, stamped with the time of the write."""
        from asyncua import ua

        if self._server is None:
            return
        now = datetime.now(UTC)
        for device, nodes in self._nodes:
            fields = served_fields(device)
            for name, nodeid, vtype in nodes:
                if name.startswith("setpoint:"):
                    value: Any = device.setpoints[name[9:]]
                else:
                    value = fields[name]
                if self._last.get(nodeid) == value:
                    continue
                self._last[nodeid] = value
                dv = ua.DataValue(ua.Variant(value, vtype), SourceTimestamp=now, ServerTimestamp=now)
                await self._server.write_attribute_value(nodeid, dv)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
