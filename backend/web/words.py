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
    N_("completed"),
    N_("cancelled"),
    N_("request"),
    N_("approve"),
    N_("reject"),
    N_("cancel"),
    N_("check-in"),
    N_("check-out"),
    N_("no-show"),
    # roles, kinds of organizations and resources, statuses of resources, waitlist and invoices
    N_("auditor"),
    N_("authority"),
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
    # units of fee standards
    N_("hour"),
    N_("day"),
    N_("sample"),
    # repair proposals (backend.models.schedule: RepairCause, RepairStatus)
    N_("urgent"),
    N_("applied"),
    N_("dismissed"),
    # what a refusal says does not exist (backend.services.common.get_or_404)
    N_("booking"),
    N_("resource"),
    N_("platform"),
    N_("organization"),
    N_("user"),
    N_("alarm"),
    # the optimizer's answer (scheduler.solve: the solver's status)
    N_("optimal"),
    N_("feasible"),
    N_("infeasible"),
    N_("unknown"),
]

#: Codes from data that read differently in English: the page shows the words (in Chinese, their
#: translation); every other code is its own English word.
SHOWN = {
    # booking statuses and the actions of its history
    "checked_in": N_("in use"),
    "no_show": N_("no-show"),
    "key-project": N_("put on the green channel"),
    "ordinary": N_("taken off the green channel"),
    # roles
    "admin": N_("administrator"),
    "operator": N_("platform operator"),
    "sme": N_("SME"),
    # kinds of organizations
    "platform_owner": N_("platform owner"),
    "research": N_("research institute"),
    # user classes of fee standards
    "internal": N_("internal user"),
    "external_sme": N_("external SME"),
    "key_project": N_("key project"),
    # weekdays of the opening-hours editor (backend.domain.opening_hours.WEEKDAYS)
    "mon": N_("Monday"),
    "tue": N_("Tuesday"),
    "wed": N_("Wednesday"),
    "thu": N_("Thursday"),
    "fri": N_("Friday"),
    "sat": N_("Saturday"),
    "sun": N_("Sunday"),
    # the optimizer's answer
    "model_invalid": N_("the model is invalid"),
}


#: The audit chain's actions (`backend.services.audit.append` callers) as an auditor reads them; the
#: log shows the code beside them, as evidence and to filter by.
AUDIT_ACTIONS = {
    "booking.request": N_("booking requested"),
    "booking.approve": N_("booking approved"),
    "booking.reject": N_("booking rejected"),
    "booking.cancel": N_("booking cancelled"),
    "booking.check-in": N_("booking checked in"),
    "booking.check-out": N_("booking checked out"),
    "booking.no-show": N_("booking marked as a no-show"),
    "booking.schedule": N_("booking scheduled"),
    "booking.move": N_("booking moved"),
    "booking.key-project": N_("booking put on the green channel"),
    "booking.ordinary": N_("booking taken off the green channel"),
    "rate.create": N_("fee standard added"),
    "rate.update": N_("fee standard changed"),
    "rate.delete": N_("fee standard removed"),
    "qualification.grant": N_("qualification granted"),
    "qualification.update": N_("qualification changed"),
    "qualification.revoke": N_("qualification revoked"),
    "schedule.run": N_("optimizer run"),
    "schedule.confirm": N_("optimizer's plan confirmed"),
    "schedule.repair.propose": N_("repair proposed"),
    "schedule.repair.apply": N_("repair applied"),
    "schedule.repair.dismiss": N_("repair set aside"),
    "usage.close": N_("usage session counted"),
    "voucher.grant": N_("innovation voucher granted"),
    "invoice.issue": N_("invoice issued"),
    "invoice.paid": N_("invoice paid"),
    "alarm.raise": N_("alarm raised"),
    "alarm.ack": N_("alarm acknowledged"),
    "alarm.clear": N_("alarm cleared"),
    "alarm_rule.create": N_("alarm rule added"),
    "alarm_rule.update": N_("alarm rule changed"),
    "alarm_rule.delete": N_("alarm rule removed"),
    "command.created": N_("command to an instrument created"),
    "command.sent": N_("command sent"),
    "command.applied": N_("command applied"),
    "command.refused": N_("command refused by the instrument"),
    "command.expired": N_("command expired"),
    "user.password_changed": N_("password changed"),
    "telemetry.quarantine_release": N_("quarantined telemetry released into the run data"),
    "telemetry.quarantine_discard": N_("quarantined telemetry discarded"),
}


def audit_action(code: str) -> str:
    """An audit action in the reader's words (its code when it is not one of `AUDIT_ACTIONS`)."""
    return gettext(AUDIT_ACTIONS[code]) if code in AUDIT_ACTIONS else code


def shown(word: str) -> str:
    """Text in the reader's language; a code from data as the word for it (`SHOWN`). The pages' `_`."""
    return gettext(SHOWN.get(word, word))


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
    # whose it is (backend.domain.access) and what does not exist (backend.services.common)
    N_("this booking belongs to another organization"),
    N_("this belongs to another organization"),
    N_("this belongs to another platform"),
    N_("only an administrator may do this"),
    N_("operators book only on their own platform"),
    N_("the operator's console is for platform operators and administrators"),
    N_("there is no platform yet"),
    N_("{thing} {ident} does not exist"),
    # the admin forms (backend.services.accounts.users, catalog.platforms, domain.credit_code)
    N_("an organization with code {code} exists already"),
    N_("a platform with code {code} exists already"),
    N_("a user with e-mail {email} exists already"),
    N_("a unified social credit code has 18 characters, this one has {count}"),
    N_("character(s) {chars} cannot appear in a unified social credit code"),
    N_("check digit is {got} but should be {expected}"),
    N_("{code} is registered to another organization"),
    N_("an SME user belongs to one SME organization"),
    N_("an operator belongs to one platform"),
    N_("only operators are attached to a platform"),
    N_("{code} is not an SME organization"),
    N_("at least one active administrator must remain; appoint another first"),
    N_("organization still has users; deactivate or move them first"),
    N_("platform still has resources; retire or delete them first"),
    N_("unknown IANA time zone {zone} (e.g. Asia/Shanghai)"),
    N_("value is not a valid email address: {why}"),
    N_("String should match pattern {pattern}"),
    N_("String should have at least {count} characters"),
    N_("String should have at most {count} characters"),
    # why a repair moves a booking or leaves it to a person (scheduler.repair, scheduling.repairs)
    N_("{resource} is out of service ({cause}) from {start} to {end}"),
    N_("{resource} is out of service from {start} to {end}"),
    N_(
        "the run on {resource} was interrupted by the fault at {start}; the request must be rebooked by a person"  # noqa: E501
    ),
    N_("its slot on {resource} went to urgent request {request}"),
    N_("its slot on {resource} went to {request}, which had to move"),
    N_("keeps order and gap limits with step {step} of the same request, which moved"),
    N_("no longer fits anywhere after the event; see unplaced"),
    N_("moved to reduce lateness"),
    N_("the urgent request, placed"),
    N_("it fits nowhere else within the horizon"),
    N_("its resource is not in service; cancel it or rebook it with the SME"),
    N_("it is {status}; it cannot be moved"),
    N_("it starts within its resource's minimum notice; cancel it or rebook it with the SME"),
    # why the optimizer left a request out (scheduler.explain, scheduler.solve)
    N_(
        "its window from {start} to {end} is shorter than its {minutes} min of work; move the release or "
        "deadline, or extend the horizon"
    ),
    N_(
        "a slot is free from {start} on {resource}, but the optimizer stopped at its time limit before "
        "placing it; run it again with a longer time limit"
    ),
    N_(
        "no candidate resource ({names}) is free for {needs} between {window}; the earliest feasible start "
        "is {start} on {resource}"
    ),
    N_(
        "no candidate resource ({names}) is free for {needs} between {window}, nor later up to the horizon "
        "end ({end}); no opening hours are known after it"
    ),
    N_("the problem has no feasible plan as a whole"),
    N_("not placed"),
    # invoice lines as issued (backend.services.money.invoices; the longer one first)
    N_(
        "booking {booking}, {resource} {start}–{end}, {user_class} (no rate card published for this class: "
        "not charged)"
    ),
    N_("booking {booking}, {resource} {start}–{end}, {user_class}"),
    N_("late cancellation of booking {booking}, {resource} {start}"),
    N_("must be after start"),
    N_("a fixed slot needs both start and end"),
    N_("describe the hazard (substances, quantities, precautions)"),
    N_("String should have at least 1 character"),
    N_("Field required"),
    N_("a flexible request needs window_start and window_end"),
    N_("must be after window_start"),
    N_("longer than the window"),
    # alarm rules (backend.services.telemetry.alarm_rules, backend.domain.alarm_rules)
    N_("alarm rules are for platform operators, auditors and administrators"),
    N_("alarm rule {rule} does not exist on platform {platform}"),
    N_("alarm rule {rule} of this platform has the code {code}"),
    N_("must not be above the limit ({limit}) of a rule on values above it"),
    N_("must not be below the limit ({limit}) of a rule on values below it"),
    N_("the devices report no signal {signal}; they report {names}"),
    N_("{signal} is not a numeric signal"),
    N_("resource {resource} is not on platform {platform}"),
    N_("no resource of {platform} is a {kind}; known: {names}"),
    N_("choose the resource or the kind of instrument the rule watches"),
    N_("may not be null; leave it out to keep it"),
    # what pydantic says of a number or a choice in a form
    N_("Input should be a finite number"),
    N_("Input should be a valid number, unable to parse string as a number"),
    N_("Input should be less than or equal to {bound}"),
    N_("Input should be greater than or equal to {bound}"),
    N_("Input should be {choices}"),
]


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in REFUSALS:
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", pattern)
        out.append((re.compile(f"^{pattern}$"), template))
    return out


_ISO_TIME = re.compile(r"\d{4}-(\d\d-\d\d)T(\d\d:\d\d):\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")


def _figure(value: str) -> str:
    """A value inside a known message: a code or word (`external_sme`, `booking`) in the reader's
    language, a contract timestamp as month-day and clock (in the zone it was written in), anything
    else (names, numbers) as it is."""
    if re.fullmatch(r"[a-z][a-z_]*", value):
        return shown(value)
    return _ISO_TIME.sub(lambda m: f"{m.group(1)} {m.group(2)}", value)


def translate(message: str) -> str:
    """`message` in the reader's language when it is one of the known refusals, else as it is."""
    for pattern, template in _patterns():
        match = pattern.match(message)
        if match:
            return gettext(template).format(**{k: _figure(v) for k, v in match.groupdict().items()})
    return shown(message)
