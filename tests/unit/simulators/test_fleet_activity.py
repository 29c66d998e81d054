"""The fleet's activity policy: bookings start and stop runs on time; past bookings are history."""

from __future__ import annotations

from simulators.fleet import Activity, FleetOptions
from simulators.platform import build_fleet
from simulators.usage import UsageAction

MIN = 60 * 10**9
T0 = 1_796_083_200_000_000_000


def test_booking_actions_fire_when_their_time_comes() -> None:
    devices = build_fleet(3, seed=1)
    f51, f52, f501 = devices
    usage = [
        UsageAction(T0 - 120 * MIN, "F5-1", "start", "old"),
        UsageAction(T0 - 60 * MIN, "F5-1", "stop", "old"),  # over before the fleet started: ignored
        UsageAction(T0 - 10 * MIN, "F5-2", "start", "now"),  # in progress: starts at once
        UsageAction(T0 + 5 * MIN, "F50-1", "start", "later"),
        UsageAction(T0 + 65 * MIN, "F50-1", "stop", "later"),
    ]
    activity = Activity(devices, FleetOptions(seed=1), usage)
    assert all(d.state == "idle" for d in devices)  # with bookings nothing autostarts
    activity.apply(T0, 0.1)
    assert (f51.state, f52.state, f501.state) == ("idle", "setup", "idle")
    activity.apply(T0 + 5 * MIN, 0.1)
    assert f501.state == "setup"
    f501.tick(3600)
    activity.apply(T0 + 65 * MIN, 0.1)
    assert f501.read()["state"] == "cleaning"


def test_without_bookings_part_of_the_fleet_is_already_busy_and_seeded() -> None:
    def states(seed: int) -> list[str]:
        devices = build_fleet(20, seed=seed)
        Activity(devices, FleetOptions(seed=seed, start_share=0.5))
        return [d.state for d in devices]

    assert states(3) == states(3)
    busy = sum(s != "idle" for s in states(3))
    assert 3 <= busy <= 17
