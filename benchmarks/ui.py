"""Load time of each web page on the demo data, as a logged-in user of the role that uses it.

    make services && .venv/bin/pilotshare demo &          # the demo with its eight weeks of history
    .venv/bin/python benchmarks/ui.py --url http://127.0.0.1:8000 [--repeat 30]

For each page: `--repeat` sequential GETs (after one warm-up) from one client on loopback, timed from
sending the request to the last byte of the HTML (server time plus transfer; no browser rendering).
Prints ONE JSON object: per page status, p50, p95 and max in ms, and the size in bytes. Target: p95
under 300 ms for every page on a 2-core machine. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import httpx

LOGINS = {
    "sme": ("qilu@qilu-enzyme.demo", "demo-sme-2026"),
    "operator": ("operator@jinan-bio.demo", "demo-operator-2026"),
}


def session(base: str, role: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    client.get("/login")
    email, password = LOGINS[role]
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": client.cookies["ps_csrf"]}
    )
    if answer.status_code != 303:
        raise SystemExit(f"cannot log in as {email}: {answer.status_code}")
    return client


def pages(sme: httpx.Client) -> list[tuple[str, str]]:
    """(role, path) of every page, with ids taken from the demo data."""
    mine = sme.get("/me/bookings").text
    booking = re.findall(r'data-booking="(\d+)"', mine)
    resource = re.findall(r'href="/resources/(\d+)"', sme.get("/").text)
    out = [
        ("anonymous", "/"),
        ("anonymous", "/?q=发酵"),
        ("anonymous", f"/resources/{resource[0]}"),
        ("anonymous", "/login"),
        ("anonymous", "/docs"),
        ("sme", "/me/bookings"),
        ("sme", "/me/invoices"),
        ("operator", "/live"),
    ]
    out += [("sme", f"/bookings/{b}") for b in booking[-3:]]
    return out


def measure(client: httpx.Client, path: str, repeat: int) -> dict[str, object]:
    client.get(path)
    times, status, size = [], 0, 0
    for _ in range(repeat):
        began = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        status, size = answer.status_code, len(answer.content)
    times.sort()
    return {
        "status": status,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "max_ms": round(times[-1], 1),
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    clients = {"anonymous": httpx.Client(base_url=args.url, timeout=30)}
    clients.update({role: session(args.url, role) for role in LOGINS})
    results = {
        f"{role} {path}": measure(clients[role], path, args.repeat) for role, path in pages(clients["sme"])
    }
    worst = max(float(str(r["p95_ms"])) for r in results.values())
    print(json.dumps({"url": args.url, "repeat": args.repeat, "worst_p95_ms": worst, "pages": results}))


if __name__ == "__main__":
    main()
