"""Words the pages show that come from data, not templates (statuses, roles, kinds), and the refusals
of the booking path, so that gettext can translate them. A refusal is matched against the templates
below and shown in the reader's language with its own figures; one that matches none is shown as the
API gives it."""

from __future__ import annotations

import re
from functools import cache

from backend.i18n import N_, gettext

WORDS = [
    # booking statuses and actions
    N_("requested"),
    N_("approved"),
    N_("rejected"),
    N_("checked_in"),
    N_("completed"),
    N_("cancelled"),
    N_("no_show"),
    N_("request"),
    N_("approve"),
    N_("reject"),
    N_("cancel"),
    N_("check-in"),
    N_("check-out"),
    N_("no-show"),
    N_("key-project"),
    N_("ordinary"),
    # roles, kinds, statuses of resources, waitlist and invoices
    N_("admin"),
    N_("operator"),
    N_("sme"),
    N_("auditor"),
    # kinds of organizations
    N_("platform_owner"),
    N_("authority"),
    N_("research"),
    N_("other"),
    N_("instrument"),
    N_("line"),
    N_("venue"),
    N_("active"),
    N_("maintenance"),
    N_("retired"),
    N_("waiting"),
    N_("booked"),
    N_("offered"),
    N_("expired"),
    N_("issued"),
    N_("paid"),
    # user classes and units of fee standards
    N_("internal"),
    N_("external_sme"),
    N_("key_project"),
    N_("hour"),
    N_("day"),
    N_("sample"),
    # weekdays of the opening-hours editor (backend.domain.opening_hours.WEEKDAYS)
    N_("mon"),
    N_("tue"),
    N_("wed"),
    N_("thu"),
    N_("fri"),
    N_("sat"),
    N_("sun"),
    # repair proposals (backend.models.schedule: RepairCause, RepairStatus)
    N_("urgent"),
    N_("applied"),
    N_("dismissed"),
]

REFUSALS = [
    N_("is in the past"),
    N_("must be at least {minutes} minutes from now (the resource's minimum notice)"),
    N_("a booking of this resource lasts at most {hours} hours"),
    N_("outside opening hours: closed then"),
    N_("outside opening hours: an unattended run may span closed hours but starts in them"),
    N_("after closing: the opening hours that include the start end at {time}"),
    N_(
        "outside opening hours: an unattended run may span closed hours but ends in them (someone unloads it)"
    ),
    N_("maintenance from {start} to {end}"),
    N_("{resource} is already booked from {start} to {end}"),
    N_("you are not qualified to use {resource}; ask the platform for an induction (qualification)"),
    N_(
        "your organization's quota on this platform is {quota} h in {month}; {left} h are left and this "
        "booking needs {wanted} h"
    ),
    N_("{resource} is {status} and cannot be booked"),
    N_("auditors have read-only access"),
    N_("only an operator of this platform (or an administrator) may change it"),
    # changing one's password (backend.domain.login.password_weakness; "different" before the other)
    N_("the current password is wrong"),
    N_("use at least {count} different characters"),
    N_("use at least {count} characters"),
    N_("must differ from the current password"),
    N_("too easy to guess (a common password or your e-mail's name)"),
    N_("must be after start"),
    N_("a fixed slot needs both start and end"),
    N_("describe the hazard (substances, quantities, precautions)"),
    N_("String should have at least 1 character"),
    N_("Field required"),
    N_("a flexible request needs window_start and window_end"),
    N_("must be after window_start"),
    N_("longer than the window"),
]


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in REFUSALS:
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", pattern)
        out.append((re.compile(f"^{pattern}$"), template))
    return out


def translate(message: str) -> str:
    """`message` in the reader's language when it is one of the known refusals, else as it is."""
    for pattern, template in _patterns():
        match = pattern.match(message)
        if match:
            return gettext(template).format(**match.groupdict())
    return gettext(message)
