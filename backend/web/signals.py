"""What the live page shows first for each kind of instrument: its key signals in order, with their
units and names in the reader's language. The devices declare their own signals (birth message); this is
the console's choice of which matter at a glance (a fermenter's temperature and pH before its acid pump)."""

from __future__ import annotations

from backend.i18n import N_, gettext, pgettext

#: device type -> (signal, label, unit), most telling first
KEY_SIGNALS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "fermenter": (
        ("temperature_c", N_("Temperature"), "°C"),
        ("ph", N_("pH"), ""),
        ("do_pct", N_("Dissolved oxygen"), "%"),
        ("agitation_rpm", N_("Agitation"), "rpm"),
        ("biomass_od", N_("Biomass (OD600)"), ""),
        ("temperature_sp_c", N_("Temperature setpoint"), "°C"),
    ),
    "spray_dryer": (
        ("inlet_temp_c", N_("Inlet temperature"), "°C"),
        ("outlet_temp_c", N_("Outlet temperature"), "°C"),
        ("feed_rate_l_h", N_("Feed rate"), "L/h"),
        ("atomizer_rpm", N_("Atomizer speed"), "rpm"),
        ("powder_kg", N_("Powder collected"), "kg"),
    ),
    "freeze_dryer": (
        ("shelf_temp_c", N_("Shelf temperature"), "°C"),
        ("product_temp_c", N_("Product temperature"), "°C"),
        ("chamber_pressure_pa", N_("Chamber pressure"), "Pa"),
        ("condenser_temp_c", N_("Condenser temperature"), "°C"),
        ("ice_remaining_pct", N_("Ice remaining"), "%"),
    ),
    "hplc": (
        ("pressure_bar", N_("Pump pressure"), "bar"),
        ("flow_ml_min", N_("Flow"), "mL/min"),
        ("column_temp_c", N_("Column temperature"), "°C"),
        ("detector_mau", N_("Detector"), "mAU"),
        ("injection", N_("Injection"), ""),
    ),
    "furnace": (
        ("temperature_c", N_("Temperature"), "°C"),
        ("setpoint_c", N_("Setpoint"), "°C"),
        ("heater_pct", N_("Heater output"), "%"),
        ("gas_flow_lpm", N_("Gas flow"), "L/min"),
        ("segment", N_("Programme segment"), ""),
    ),
    "am_cell": (
        ("laser_power_w", N_("Laser power"), "W"),
        ("oxygen_ppm", N_("Chamber oxygen"), "ppm"),
        ("plate_temp_c", N_("Build plate temperature"), "°C"),
        ("layer", N_("Layer"), ""),
        ("argon_flow_lpm", N_("Argon flow"), "L/min"),
    ),
}

#: signals the devices report that the cards leave out, named for the alarm-rule pages
OTHER_SIGNALS: dict[str, tuple[str, str]] = {
    "base_ml": (N_("Base dosed"), "mL"),
    "acid_ml": (N_("Acid dosed"), "mL"),
    "heater_pct": (N_("Heater output"), "%"),
    "sample_counter": (N_("Injections completed"), ""),
    "fan_power_kw": (N_("Fan power"), "kW"),
    "heater_power_kw": (N_("Heater power"), "kW"),
    "power_kw": (N_("Power draw"), "kW"),
}

#: a resource's device type (its driver model), in words
DEVICE_TYPES = {
    "fermenter": N_("fermenter"),
    "spray_dryer": N_("spray dryer"),
    "freeze_dryer": N_("freeze dryer"),
    "hplc": N_("HPLC"),
    "furnace": N_("tube furnace"),
    "am_cell": N_("metal 3D printer"),
}


def signal_name(signal: str) -> tuple[str, str]:
    """(name in the reader's language, unit) of a signal; a signal the console does not know keeps its
    own name, as the device reports it."""
    for signals in KEY_SIGNALS.values():
        for name, label, unit in signals:
            if name == signal:
                return gettext(label), unit
    if signal in OTHER_SIGNALS:
        label, unit = OTHER_SIGNALS[signal]
        return gettext(label), unit
    return signal, ""


def device_type_name(device_type: str) -> str:
    return gettext(DEVICE_TYPES[device_type]) if device_type in DEVICE_TYPES else device_type


STATES = (
    N_("idle"),
    N_("setup"),
    N_("running"),
    N_("cleaning"),
    N_("fault"),
    N_("maintenance"),
    N_("unknown"),
)
CONNECTION = (N_("online"), N_("offline"))
#: an alarm's severity (`edge_agent.protocol.Severity`); its states are `alarm_states` below
SEVERITIES = (N_("info"), N_("warning"), N_("critical"))


def catalog() -> dict[str, object]:
    """The key signals, state and connection words in the reader's language, for static/live.js."""
    return {
        "signals": {
            device: [[name, gettext(label), unit] for name, label, unit in signals]
            for device, signals in KEY_SIGNALS.items()
        },
        "words": {w: gettext(w) for w in (*STATES, *CONNECTION, *SEVERITIES)},
        "alarm_states": {  # backend.domain.alarms.AlarmState
            "active": pgettext("alarm", "active"),
            "acknowledged": pgettext("alarm", "acknowledged"),
            "cleared": pgettext("alarm", "cleared"),
        },
        "t_rule": gettext("threshold rule"),  # an alarm of `source` rule (ingest's alarm rules)
        "t_booking": gettext("during booking"),
    }
