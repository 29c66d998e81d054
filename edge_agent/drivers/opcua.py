"""OPC UA driver (asyncua Client): one Read request for every mapped variable per tick.

Polling (rather than a subscription) keeps the sample grid the agent's: every tick yields one sample with
every field, which is what the telemetry contract carries. Commands call the configured methods on the
instrument's object; a Bad status code answer means the instrument refused.
"""

# asyncua annotates NodeId with NewType aliases that plain str/int satisfy at run time.
# mypy: disable-error-code="arg-type,attr-defined"
from __future__ import annotations

import asyncio
from typing import Any

from edge_agent.protocol import CommandRefused, DriverError, DriverValue
from edge_agent.settings import OpcUaSettings


def scaled(value: Any, scale: float) -> DriverValue:
    """A field from an OPC UA value: numbers ``/ scale``, booleans and text unchanged."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value if scale == 1 else value / scale
    raise DriverError(f"unsupported OPC UA value {value!r} ({type(value).__name__})")


def resolve_node_id(node: str, ns_index: int | None) -> str:
    """``s=X`` with the namespace looked up at connect becomes ``ns=N;s=X``; full ids pass unchanged."""
    if node.startswith(("ns=", "i=")) or ns_index is None:
        return node
    return f"ns={ns_index};{node}"


class OpcUaDriver:
    name = "opcua"

    def __init__(self, settings: OpcUaSettings) -> None:
        self.settings = settings
        self._client: Any = None
        self._nodes: list[Any] = []
        self._ns: int | None = None

    async def connect(self) -> None:
        from asyncua import Client

        await self.close()
        s = self.settings
        client = Client(s.endpoint, timeout=s.timeout_s)
        if s.username:
            client.set_user(s.username)
            client.set_password(s.password or "")
        try:
            await client.connect()
            self._ns = await client.get_namespace_index(s.namespace) if s.namespace else None
            self._nodes = [client.get_node(resolve_node_id(n.node, self._ns)) for n in s.nodes]
            self._client = client
            await self.read()  # a wrong node id shows now, by name, not as a silent gap later
        except DriverError:
            await self.close()
            raise
        except Exception as exc:  # asyncua raises many types; all mean "cannot use it now"
            await self._disconnect_quietly(client)
            self._client = None
            raise DriverError(f"opcua {s.endpoint}: {type(exc).__name__}: {exc}") from exc

    async def read(self) -> dict[str, DriverValue]:
        from asyncua import ua

        if self._client is None:
            raise DriverError("opcua: not connected")
        try:
            values = await self._client.read_attributes(self._nodes, ua.AttributeIds.Value)
        except Exception as exc:
            raise DriverError(f"opcua read: {type(exc).__name__}: {exc}") from exc
        fields: dict[str, DriverValue] = {}
        for spec, dv in zip(self.settings.nodes, values, strict=True):
            if not dv.StatusCode.is_good():
                raise DriverError(f"opcua node {spec.node} ({spec.name}): {dv.StatusCode.name}")
            fields[spec.name] = scaled(dv.Value.Value, spec.scale)
        return fields

    async def command(self, action: str, args: dict[str, Any]) -> None:
        from asyncua import ua

        if self._client is None:
            raise DriverError("instrument offline (opcua not connected)")
        methods = self.settings.methods
        if methods is None:
            raise CommandRefused("commands are not configured (device.opcua.methods)")
        if action not in ("lock", "unlock", "setpoint"):
            raise CommandRefused(f"unknown action {action!r}")
        method = getattr(methods, action)
        if method is None:
            raise CommandRefused(f"{action} is not configured (device.opcua.methods.{action})")
        obj = self._client.get_node(resolve_node_id(methods.object, self._ns))
        method_id = f"{self._ns}:{method}" if self._ns is not None else method
        calls: list[tuple[Any, ...]] = [()]
        if action == "setpoint":
            calls = []
            for name, value in args.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise CommandRefused(f"setpoint {name}: {value!r} is not a number")
                v_name = ua.Variant(str(name), ua.VariantType.String)
                calls.append((v_name, ua.Variant(float(value), ua.VariantType.Double)))
        for call_args in calls:
            try:
                await obj.call_method(method_id, *call_args)
            except ua.UaStatusCodeError as exc:
                raise CommandRefused(f"instrument refused {action}: {exc}") from None
            except Exception as exc:
                raise DriverError(f"opcua call {method}: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    async def _disconnect_quietly(client: Any) -> None:
        try:
            async with asyncio.timeout(2):
                await client.disconnect()
        except Exception:  # the connection is already gone; nothing left to release cleanly
            client.disconnect_socket()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await self._disconnect_quietly(client)

    def describe(self) -> dict[str, DriverValue]:
        return {"driver": "opcua", "endpoint": self.settings.endpoint}
