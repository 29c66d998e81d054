"""A platform as a scheduling problem (the contract's problem file), built so that every slot the
optimizer may choose passes `backend.domain.bookings.check_slot`, the booking path's one judge.

Each rule of the booking path becomes part of the problem:

| rule | in the problem |
|---|---|
| opening hours | `open`: the resource's opening periods, for a pilot line intersected with its instruments' |
| unattended runs | `unattended` and `unattended_ends_open`: start *and* end in opening hours |
| maintenance | `unavailable`: the maintenance windows of the resource and, for a line, of its instruments |
| minimum notice | `unavailable` from the horizon start until now + the resource's notice |
| maximum length | candidates a request is too long for are left out (`skip`) |
| qualifications | candidates the requester is not qualified for are left out (`skip`) |
| quotas | `budgets`: per organization and month in the platform's zone, the hours it has left |
| line / instrument | a `pool` of capacity 1 per instrument with the lines it belongs to |
| resource status | resources not active, and lines with an instrument not active, are not in the problem |
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.domain.bookings import HOLDS_SLOT
from backend.domain.intervals import Interval, intersect, normalize
from backend.models.booking import Booking, status_in
from backend.models.organization import Organization
from backend.models.platform import Platform
from backend.models.rate import UserClass
from backend.models.resource import Resource, ResourceMember, ResourceStatus
from backend.services.bookings.quotas import hours_used, month_bounds, quota_hours
from backend.services.bookings.rules import Requester, targets_of
from backend.services.catalog.qualifications import is_qualified
from backend.services.catalog.resources import member_ids


def iso(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


# The solver counts whole minutes from the horizon start, so every time is rounded to a whole minute,
# always toward the safe side: what allows (opening hours, a request's window) inward, what forbids
# (maintenance, the notice, other bookings) outward. Rounded the other way, a start could land seconds
# before opening or before the end of the notice.


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def ceil_minute(moment: datetime) -> datetime:
    down = floor_minute(moment)
    return down if down == moment else down + timedelta(minutes=1)


def requester_of(booking: Booking) -> Requester:
    """Platform staff book as the `internal` user class (see `requesting.who_books`)."""
    return Requester(booking.user_id, booking.organization_id, booking.user_class == UserClass.internal)


@dataclass
class PlatformProblem:
    platform: Platform
    horizon: Interval
    now: datetime
    resources: dict[str, Resource]  # code -> resource, the ones in the problem
    data: dict[str, Any] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    bookings: dict[str, int] = field(default_factory=dict)  # request id -> booking id
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"booking_id", "reason"}
    _orgs: dict[int, str] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.platform.timezone)

    def org_code(self, session: Session, organization_id: int | None) -> str:
        if organization_id is None:
            return ""
        if not self._orgs:
            self._orgs = {i: c for i, c in session.exec(select(Organization.id, Organization.code)) if i}
        return self._orgs.get(organization_id, f"org-{organization_id}")

    def candidates(
        self, session: Session, booking: Booking, codes: Iterable[str], minutes: int
    ) -> tuple[list[str], list[str]]:
        """The candidate codes a request of `booking` may be placed on, and why the others may not."""
        requester = requester_of(booking)
        allowed, refused = [], []
        for code in dict.fromkeys(codes):
            resource = self.resources.get(code)
            if resource is None:
                refused.append(f"{code} is not active (or a pilot line with an instrument that is not)")
            elif minutes > resource.max_booking_hours * 60:
                refused.append(f"{code} takes bookings of at most {resource.max_booking_hours:g} h")
            elif (
                not requester.staff
                and resource.requires_qualification
                and not is_qualified(session, requester.user_id, resource.id or 0)
            ):
                refused.append(f"the requester is not qualified for {code}")
            else:
                allowed.append(code)
        return allowed, refused

    def add_request(self, booking_id: int, request: dict[str, Any]) -> None:
        self.requests.append(request)
        self.bookings[request["id"]] = booking_id

    def skip(self, booking_id: int, reason: str) -> None:
        self.skipped.append({"booking_id": booking_id, "reason": reason})


def start(
    session: Session,
    platform: Platform,
    horizon: Interval,
    now: datetime,
    *,
    notice: bool,
    outages: Mapping[int, Sequence[Interval]] | None = None,
) -> tuple[PlatformProblem, list[dict[str, Any]], list[dict[str, Any]]]:
    """The resources of `platform` over `horizon` (calendars, notice) and the pools coupling pilot lines
    to their instruments. `notice`: block each resource until now + its minimum notice. `outages`:
    time a resource is out of service beyond its maintenance windows (a fault), by resource id; it
    blocks the resource and every pilot line it belongs to."""
    zone = ZoneInfo(platform.timezone)
    active = list(
        session.exec(
            select(Resource)
            .where(Resource.platform_id == platform.id, Resource.status == ResourceStatus.active)
            .order_by(col(Resource.code))
        )
    )
    horizon = Interval(ceil_minute(horizon.start), floor_minute(horizon.end))
    problem = PlatformProblem(platform, horizon, now, {})
    entries = []
    for resource in active:
        targets = targets_of(session, resource, platform, horizon)
        if not all(t.usable for t in targets):
            continue
        out_of_service = [
            iv
            for rid in [resource.id, *member_ids(session, resource.id or 0)]
            for iv in (outages or {}).get(rid or 0, ())
        ]
        opened = normalize(targets[0].open_periods)
        for target in targets[1:]:
            opened = intersect(opened, normalize(target.open_periods))
        blocked = [iv for t in targets for iv in t.maintenance] + out_of_service
        ready = ceil_minute(now + timedelta(minutes=resource.min_notice_minutes if notice else 0))
        if ready > horizon.start:
            blocked.append(Interval(horizon.start, ready))
        problem.resources[resource.code] = resource
        entries.append(
            {
                "id": resource.code,
                "open": [
                    [iso(ceil_minute(p.start), zone), iso(floor_minute(p.end), zone)]
                    for p in opened
                    if ceil_minute(p.start) < floor_minute(p.end)
                ],
                "unavailable": [
                    [iso(floor_minute(b.start), zone), iso(ceil_minute(b.end), zone)]
                    for b in normalize(blocked)
                ],
                "unattended": resource.unattended,
                "unattended_ends_open": resource.unattended,
            }
        )
    by_id = {r.id: r.code for r in problem.resources.values()}
    lines_of: dict[str, list[str]] = {}
    for line_id, member_id in session.exec(select(ResourceMember.line_id, ResourceMember.member_id)):
        if line_id in by_id and member_id in by_id:
            lines_of.setdefault(by_id[member_id], []).append(by_id[line_id])
    pools = [
        {"id": f"uses-{member}", "capacity": 1, "members": [member, *sorted(lines)]}
        for member, lines in sorted(lines_of.items())
    ]
    return problem, entries, pools


def holding_bookings(session: Session, platform: Platform, horizon: Interval) -> list[Booking]:
    return list(
        session.exec(
            select(Booking)
            .where(
                Booking.platform_id == platform.id,
                status_in(HOLDS_SLOT),
                col(Booking.starts_at) < horizon.end,
                col(Booking.ends_at) > horizon.start,
            )
            .order_by(col(Booking.id))
        )
    )


def finish(
    session: Session,
    problem: PlatformProblem,
    resources: list[dict[str, Any]],
    pools: list[dict[str, Any]],
    held: list[Booking],
) -> None:
    """Add the confirmed bookings (`held`, except the ones that are requests) and the quotas."""
    zone = problem.zone
    codes = {r.id: r.code for r in problem.resources.values()}
    lines = {code for pool in pools for code in pool["members"][1:]}
    resource_of = {b.id: b.resource_id for b in held}
    requested = set(problem.bookings.values())
    fixed = []
    for b in held:
        if b.id in requested or b.parent_id in requested or b.resource_id not in codes:
            continue
        parent_resource = resource_of.get(b.parent_id) if b.parent_id else None
        if parent_resource is not None and codes.get(parent_resource) in lines:
            continue  # an instrument's share of a line booking: the line's row counts in the pool
        assert b.starts_at is not None and b.ends_at is not None
        fixed.append(
            {
                "request": f"B{b.id}",
                "step": "s1",
                "resource": codes[b.resource_id],
                "start": iso(floor_minute(b.starts_at), zone),
                "end": iso(ceil_minute(b.ends_at), zone),
            }
        )
    problem.data = {
        "horizon": {"start": iso(problem.horizon.start, zone), "end": iso(problem.horizon.end, zone)},
        "resources": resources,
        "requests": problem.requests,
        "fixed": fixed,
        "pools": pools,
        "budgets": _budgets(session, problem, held),
        "objective": "default",
    }


def _months(horizon: Interval, zone: ZoneInfo) -> list[tuple[datetime, datetime, str]]:
    out = []
    first, following, month = month_bounds(horizon.start, zone)
    while first < horizon.end:
        out.append((first, following, month))
        first, following, month = month_bounds(following, zone)
    return out


def _budgets(session: Session, problem: PlatformProblem, held: Collection[Booking]) -> list[dict[str, Any]]:
    """Per organization with a quota and month of the horizon: the minutes it may still be given.

    Bookings that are requests of the problem are the model's to count, so they are left out of what is
    used; and a repair never has to drop a booking for a quota that was lowered after it was made."""
    zone, platform = problem.zone, problem.platform
    own: dict[int, list[Booking]] = {}
    for b in held:
        if b.id in problem.bookings.values() and b.organization_id is not None:
            own.setdefault(b.organization_id, []).append(b)
    organizations = {
        requester_of(b).organization_id
        for b in session.exec(select(Booking).where(col(Booking.id).in_(list(problem.bookings.values()))))
        if not requester_of(b).staff
    }
    out = []
    for org in sorted(o for o in organizations if o is not None):
        quota = quota_hours(session, platform, org)
        if quota is None:
            continue
        code = problem.org_code(session, org)
        for first, following, month in _months(problem.horizon, zone):
            excluded = [b.id or 0 for b in own.get(org, [])]
            used = hours_used(session, platform.id or 0, org, first, following, excluded)
            mine = sum(
                (
                    b.ends_at - b.starts_at
                    for b in own.get(org, [])
                    if b.starts_at and b.ends_at and first <= b.starts_at < following
                ),
                timedelta(),
            )
            left = max(0, math.floor(quota * 60 - used.total_seconds() / 60))
            out.append(
                {
                    "id": f"quota-{code}-{month}",
                    "org": code,
                    "start": iso(first, zone),
                    "end": iso(following, zone),
                    "minutes": max(left, int(mine.total_seconds() // 60)),
                }
            )
    return out
