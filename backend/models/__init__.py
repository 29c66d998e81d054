"""Tables, one module per aggregate. Importing this package registers every table on SQLModel.metadata."""

from backend.models.alarm_rule import AlarmRule, AlarmRuleState, ResourceFault
from backend.models.audit import AuditEvent, AuditHead
from backend.models.billing import Invoice, InvoiceLine, Voucher, VoucherRedemption
from backend.models.booking import Booking, BookingEvent
from backend.models.command import DeviceCommand
from backend.models.organization import Organization
from backend.models.outbox import OutboxMessage
from backend.models.platform import Platform
from backend.models.qualification import Qualification
from backend.models.quota import Quota
from backend.models.rate import RateCard
from backend.models.resource import (
    MaintenanceWindow,
    Resource,
    ResourceAttribute,
    ResourceCapability,
    ResourceMember,
)
from backend.models.schedule import ScheduleRepair, ScheduleRun
from backend.models.telemetry_checks import (
    IngestGauge,
    QuarantinedTelemetry,
    TelemetryRefusal,
    TelemetrySequence,
)
from backend.models.twin import Alarm, Twin
from backend.models.usage import UsageCursor, UsageSession
from backend.models.user import LoginFailure, User
from backend.models.waitlist import WaitlistEntry
from backend.models.webhook import Webhook

__all__ = [
    "Alarm",
    "AlarmRule",
    "AlarmRuleState",
    "AuditEvent",
    "AuditHead",
    "Booking",
    "BookingEvent",
    "DeviceCommand",
    "IngestGauge",
    "Invoice",
    "InvoiceLine",
    "LoginFailure",
    "MaintenanceWindow",
    "Organization",
    "OutboxMessage",
    "Platform",
    "Qualification",
    "QuarantinedTelemetry",
    "Quota",
    "RateCard",
    "Resource",
    "ResourceAttribute",
    "ResourceCapability",
    "ResourceFault",
    "ResourceMember",
    "ScheduleRepair",
    "ScheduleRun",
    "TelemetryRefusal",
    "TelemetrySequence",
    "Twin",
    "UsageCursor",
    "UsageSession",
    "User",
    "Voucher",
    "VoucherRedemption",
    "WaitlistEntry",
    "Webhook",
]
