"""Booking API under 50 concurrent clients: availability queries and booking creation on PostgreSQL.

    .venv/bin/python benchmarks/booking_api.py [--clients 50] [--availability 3000] [--bookings 600]
                                               [--paced-rate 100] [--paced-seconds 15] [--workers 1]
    .venv/bin/python benchmarks/booking_api.py --url http://127.0.0.1:8000   # a server already running

Without --url it creates a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres; override with
--postgres-url), migrates and demo-seeds it with `pilotshare db upgrade` / `pilotshare seed demo`, starts
`pilotshare api` on a free loopback port (PILOTSHARE_DEMO_MODE=true, PILOTSHARE_BACKGROUND_SECONDS=0,
log level WARNING), and drops the database at the end.

Phases, each bounded by a request count and --max-seconds:
1. `booking`: the demo operator books non-overlapping one-hour slots (instantly approved) on the ten demo
   instruments, as fast as the clients can go (closed loop: each client sends its next request when
   the previous one is answered).
2. `availability`: GET /resources/{id}/availability over one week, rotating instruments and weeks (the
   booked ones included), closed loop.
3. `availability_paced`: the same query at a fixed total rate (--paced-rate per second) spread over the
   clients; latency counts from the scheduled send time, so a server falling behind shows up in it.
4. With `wrk` (installed from Debian's packages when missing), --wrk-seconds each: `healthz`;
   `availability` over the 40 instrument-weeks (the server may give a recent answer again, see
   PILOTSHARE_AVAILABILITY_CACHE_SECONDS); `availability_distinct`, 4,000 windows a minute apart so that
   every answer is read from the database; `booking` of non-colliding slots.

Prints ONE JSON object: per phase requests, errors, status counts, requests/s, p50/p90/p99/max latency in
ms, and the CPU seconds the server used (for the wrk phases also per request); the load average before and
after. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
OPERATOR = ("operator@jinan-bio.demo", "demo-operator-2026")
INSTRUMENTS = ["F5-1", "F5-2", "F50-1", "F50-2", "F500-1", "SD-1", "FD-1", "HPLC-1", "HPLC-2", "TF-1"]
ZONE = ZoneInfo("Asia/Shanghai")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SLOTS_PER_DAY = 12  # 08:00-20:00, the demo platform's weekday hours


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the server under test -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _driver(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    name = f"pilotshare_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_driver(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        log(f"dropped database {name}")


def pilotshare(*args: str) -> list[str]:
    return [sys.executable, "-m", "pilotshare", *args]


@contextmanager
def running_server(database_url: str, workers: int) -> Iterator[tuple[str, int]]:
    env = {
        **os.environ,
        "PILOTSHARE_DATABASE_URL": database_url,
        "PILOTSHARE_DEMO_MODE": "true",
        "PILOTSHARE_BACKGROUND_SECONDS": "0",
        "PILOTSHARE_LOG_LEVEL": "WARNING",
    }
    for step in (("db", "upgrade"), ("seed", "demo")):
        done = subprocess.run(pilotshare(*step), env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pilotshare {' '.join(step)} failed:\n{done.stderr[-2000:]}")
    port = free_port()
    server = subprocess.Popen(
        pilotshare("api", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        env=env,
        cwd=ROOT,
        stdout=sys.stderr,  # the server's log lines, kept off the one JSON object on stdout
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the API server exited with {server.returncode}")
            try:
                if httpx.get(f"{url}/api/v1/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API server did not come up within 60 s")
            time.sleep(0.2)
        yield url, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids.extend(_tree(int(child)))
    return pids


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU of the server process and its workers (Linux /proc)."""
    if pid is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


# --- load ---------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    cpu: float | None = None

    def record(self, started: float, status: str) -> None:
        self.latencies.append(time.perf_counter() - started)
        self.statuses[status] += 1

    def summary(self, ok: set[int]) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(q: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

        errors = sum(n for s, n in self.statuses.items() if not (s.isdigit() and int(s) in ok))
        return {
            "requests": len(ordered),
            "errors": errors,
            "statuses": dict(sorted(self.statuses.items())),
            "seconds": round(self.elapsed, 2),
            "requests_per_s": round(len(ordered) / self.elapsed, 1) if self.elapsed else None,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
            "server_cpu_s": round(self.cpu, 2) if self.cpu is not None else None,
        }


Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def closed_loop(
    phase: Phase, url: str, headers: dict[str, str], requests: list[Request], clients: int, max_seconds: float
) -> None:
    queue = iter(requests)
    deadline = time.perf_counter() + max_seconds

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            for make in queue:  # the shared iterator hands each request to one client
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                try:
                    response = await make(http)
                    phase.record(started, str(response.status_code))
                except httpx.HTTPError as exc:
                    phase.record(started, type(exc).__name__)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    phase.elapsed = time.perf_counter() - started


async def paced(
    phase: Phase,
    url: str,
    headers: dict[str, str],
    request: Callable[[int], Request],
    clients: int,
    rate: float,
    seconds: float,
) -> None:
    """Open-ish loop: request k is due at k / rate; latency counts from when it was due, so a server
    falling behind shows up. Every client connects (one untimed request) before the clock starts, as a
    kept-alive client would be."""
    total = int(rate * seconds)
    https = [httpx.AsyncClient(base_url=url, headers=headers, timeout=30) for _ in range(clients)]
    try:
        await asyncio.gather(*(request(i)(http) for i, http in enumerate(https)))
        t0 = time.perf_counter() + 0.2

        async def client(first: int, http: httpx.AsyncClient) -> None:
            for k in range(first, total, clients):
                due = t0 + k / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    response = await request(k)(http)
                    phase.record(due, str(response.status_code))
                except httpx.HTTPError as exc:
                    phase.record(due, type(exc).__name__)

        await asyncio.gather(*(client(i, http) for i, http in enumerate(https)))
        phase.elapsed = time.perf_counter() - t0
    finally:
        await asyncio.gather(*(http.aclose() for http in https))


# --- wrk: the same questions from a C load generator ---------------------------------------------


def ensure_wrk() -> str | None:
    """wrk's path; installed from Debian's packages when missing and we are root (None otherwise)."""
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk (Debian package)")
        quiet = {"capture_output": True, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
        if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet).returncode != 0:  # type: ignore[call-overload]
            subprocess.run(["apt-get", "update", "-q"], **quiet)  # type: ignore[call-overload]
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet)  # type: ignore[call-overload]
        found = shutil.which("wrk")
    return found


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number = re.match(r"([0-9.]+)([a-z]+)", text)
    assert number is not None, text
    return round(float(number.group(1)) * _UNITS[number.group(2)], 2)


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests, rate, latency percentiles and non-2xx answers from `wrk --latency`."""
    done = re.search(r"(\d+) requests in ([0-9.]+)(\w+)", output)
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+([0-9.]+\w+)", output, re.M))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests": int(done.group(1)) if done else None,
        "requests_per_s": float(rate.group(1)) if rate else None,
        **{f"p{q}_ms": _ms(v) for q, v in sorted(percentiles.items())},
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else None,
    }


def run_wrk(
    wrk: str, url: str, path: str, connections: int, seconds: float, script: str | None = None
) -> dict[str, Any]:
    command = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        if script is not None:
            lua.write(script)
            lua.flush()
            command += ["-s", lua.name]
        done = subprocess.run([*command, url + path], capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr[-500:]}")
    return parse_wrk(done.stdout)


def _lua_list(items: list[str]) -> str:
    return "{" + ", ".join(json.dumps(i) for i in items) + "}"


def availability_script(paths: list[str]) -> str:
    """Each request asks the next path of the list (instruments and weeks in turn)."""
    return f"""
local paths = {_lua_list(paths)}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""


def distinct_availability_script(paths: list[str]) -> str:
    """As `availability_script`, but the two wrk threads start half the list apart: with thousands of
    paths no window is asked again within seconds, so no answer can come from the server's recent
    answers (PILOTSHARE_AVAILABILITY_CACHE_SECONDS) and each is read from the database."""
    return f"""
local paths = {_lua_list(paths)}
local threads = 0
setup = function(thread)
  thread:set("offset", threads * math.floor(#paths / 2))
  threads = threads + 1
end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[((i + offset) % #paths) + 1])
end
"""


def booking_script(ids: list[int], first_start: datetime, token: str) -> str:
    """Each request books the next free one-hour weekday slot (08:00-20:00 in the platform's zone),
    instruments in turn; the two wrk threads take alternate slots, so no two requests collide."""
    base = int(first_start.timestamp())
    return f"""
local ids = {{{", ".join(str(i) for i in ids)}}}
local base = {base}
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local counter = 0
local headers = {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {token}"}}
request = function()
  local k = counter * 2 + tid
  counter = counter + 1
  local slot = math.floor(k / #ids)
  local day, hour = math.floor(slot / {SLOTS_PER_DAY}), slot % {SLOTS_PER_DAY}
  local week, weekday = math.floor(day / 5), day % 5
  local start = base + ((week * 7 + weekday) * 24 + hour) * 3600
  local body = string.format(
    '{{"resource_id": %d, "start": "%s", "end": "%s", "purpose": "wrk run"}}',
    ids[(k % #ids) + 1], os.date("!%Y-%m-%dT%H:%M:%SZ", start), os.date("!%Y-%m-%dT%H:%M:%SZ", start + 3600))
  return wrk.format("POST", "/api/v1/bookings", headers, body)
end
"""


async def wrk_phases(
    args: argparse.Namespace, url: str, pid: int | None, ids: dict[str, int], token: str, monday: datetime
) -> dict[str, Any]:
    wrk = ensure_wrk()
    if wrk is None:
        log("wrk is not installed (and we are not root): wrk phases skipped")
        return {"skipped": "wrk not installed"}
    weeks = [monday + timedelta(weeks=w) for w in range(4)]
    paths = [
        f"/api/v1/resources/{ids[code]}/availability?"
        + urlencode({"from": week.isoformat(), "to": (week + timedelta(days=7)).isoformat()})
        for week in weeks
        for code in INSTRUMENTS
    ]
    distinct = [
        f"/api/v1/resources/{ids[code]}/availability?"
        + urlencode({"from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()})
        for start in (week + timedelta(minutes=m) for week in weeks for m in range(100))
        for code in INSTRUMENTS
    ]
    far = monday + timedelta(weeks=args.wrk_booking_week)  # clear of the Python phases' bookings
    phases: dict[str, Any] = {}
    for name, path, script in (
        ("healthz", "/api/v1/healthz", None),
        ("availability", paths[0], availability_script(paths)),
        ("availability_distinct", distinct[0], distinct_availability_script(distinct)),
        (
            "booking",
            "/api/v1/bookings",
            booking_script([ids[c] for c in INSTRUMENTS], far + timedelta(hours=8), token),
        ),
    ):
        before = cpu_seconds(pid)
        phases[name] = result = await asyncio.to_thread(
            run_wrk, wrk, url, path, args.clients, args.wrk_seconds, script
        )
        if before is not None and result["requests"]:
            # the server's own CPU per answer: less sensitive to the machine's other load than the rate
            result["server_cpu_s"] = round((cpu_seconds(pid) or 0) - before, 2)
            result["server_cpu_ms_per_request"] = round(1000 * result["server_cpu_s"] / result["requests"], 3)
        log(f"wrk {name}: {phases[name]}")
    healthz = phases["healthz"]["requests_per_s"]
    for name in ("availability", "availability_distinct"):
        if healthz and phases[name]["requests_per_s"]:
            phases[f"{name}_vs_healthz"] = round(phases[name]["requests_per_s"] / healthz, 3)
    return phases


# --- what is asked --------------------------------------------------------------------------------


def first_monday(day: str) -> datetime:
    start = datetime.fromisoformat(day).replace(tzinfo=ZONE)
    return start - timedelta(days=start.weekday())


def booking_slot(monday: datetime, i: int) -> tuple[str, datetime]:
    """The i-th booking: instruments in turn, then one-hour weekday slots 08:00-20:00, week after week."""
    code = INSTRUMENTS[i % len(INSTRUMENTS)]
    k = i // len(INSTRUMENTS)
    day, hour = divmod(k, SLOTS_PER_DAY)
    week, weekday = divmod(day, 5)
    return code, monday + timedelta(weeks=week, days=weekday, hours=8 + hour)


def make_booking(resource_id: int, start: datetime) -> Request:
    body = {
        "resource_id": resource_id,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "purpose": "benchmark run",
    }
    return lambda http: http.post("/api/v1/bookings", json=body)


def make_availability(resource_id: int, start: datetime) -> Request:
    params = {"from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()}
    return lambda http: http.get(f"/api/v1/resources/{resource_id}/availability", params=params)


async def measure(args: argparse.Namespace, url: str, pid: int | None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        token = await http.post(
            "/api/v1/auth/token", data={"username": args.email, "password": args.password}
        )
        token.raise_for_status()
        access_token = token.json()["access_token"]
        headers = {"Authorization": f"Bearer {access_token}"}
        listed = await http.get("/api/v1/resources", params={"platform": "jinan-bio", "limit": 100})
        ids = {r["code"]: r["id"] for r in listed.json()["data"]}
    monday = first_monday(args.first_day)
    weeks = max(1, -(-args.bookings // (len(INSTRUMENTS) * SLOTS_PER_DAY * 5)))

    def availability_request(k: int) -> Request:
        code = INSTRUMENTS[k % len(INSTRUMENTS)]
        return make_availability(ids[code], monday + timedelta(weeks=(k // len(INSTRUMENTS)) % (weeks + 1)))

    warm = Phase("warm-up")
    await closed_loop(warm, url, headers, [availability_request(k) for k in range(100)], 10, 30)

    phases: dict[str, Any] = {}
    booking = Phase("booking")
    requests = []
    for i in range(args.bookings):
        code, start = booking_slot(monday, i)
        requests.append(make_booking(ids[code], start))
    before = cpu_seconds(pid)
    await closed_loop(booking, url, headers, requests, args.clients, args.max_seconds)
    booking.cpu = None if before is None else (cpu_seconds(pid) or 0) - before
    phases["booking"] = booking.summary({201})
    log(f"booking: {phases['booking']}")

    availability = Phase("availability")
    before = cpu_seconds(pid)
    await closed_loop(
        availability,
        url,
        headers,
        [availability_request(k) for k in range(args.availability)],
        args.clients,
        args.max_seconds,
    )
    availability.cpu = None if before is None else (cpu_seconds(pid) or 0) - before
    phases["availability"] = availability.summary({200})
    log(f"availability: {phases['availability']}")

    if args.paced_rate > 0:
        steady = Phase("availability_paced")
        before = cpu_seconds(pid)
        await paced(
            steady, url, headers, availability_request, args.clients, args.paced_rate, args.paced_seconds
        )
        steady.cpu = None if before is None else (cpu_seconds(pid) or 0) - before
        phases["availability_paced"] = {"offered_per_s": args.paced_rate, **steady.summary({200})}
        log(f"availability_paced: {phases['availability_paced']}")
    if args.wrk_seconds > 0:
        phases["wrk"] = await wrk_phases(args, url, pid, ids, access_token, monday)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="benchmark a running server (loopback only) instead of starting one")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's process, to count its CPU")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--availability", type=int, default=3000, help="availability queries (closed loop)")
    parser.add_argument("--bookings", type=int, default=600, help="bookings to create (closed loop)")
    parser.add_argument("--paced-rate", type=float, default=100, help="availability queries/s; 0 = skip")
    parser.add_argument("--paced-seconds", type=float, default=15)
    parser.add_argument("--max-seconds", type=float, default=120, help="cap per closed-loop phase")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes of the server")
    parser.add_argument("--wrk-seconds", type=float, default=10, help="per wrk phase; 0 = no wrk phases")
    parser.add_argument("--wrk-booking-week", type=int, default=60, help="weeks after --first-day wrk books")
    parser.add_argument("--first-day", default="2027-06-07", help="first booked week (Monday of it)")
    parser.add_argument("--email", default=OPERATOR[0])
    parser.add_argument("--password", default=OPERATOR[1])
    args = parser.parse_args()
    if not 1 <= args.clients <= 500 or args.bookings > 20000 or args.availability > 100000:
        parser.error("keep it bounded: clients 1-500, bookings <= 20000, availability <= 100000")

    result: dict[str, Any] = {
        "benchmark": "booking_api",
        "clients": args.clients,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    if args.url:
        if urlsplit(args.url).hostname not in LOOPBACK:
            parser.error("--url must point at this machine (127.0.0.1 / localhost)")
        result.update(
            server=args.url, phases=asyncio.run(measure(args, args.url.rstrip("/"), args.server_pid))
        )
    else:
        with (
            fresh_database(args.postgres_url) as database_url,
            running_server(database_url, args.workers) as (
                url,
                pid,
            ),
        ):
            log(f"server {url} (pid {pid}) on {database_url.rsplit('/', 1)[1]}")
            result.update(
                server=f"pilotshare api --workers {args.workers} (uvicorn) on PostgreSQL",
                phases=asyncio.run(measure(args, url, pid)),
            )
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
