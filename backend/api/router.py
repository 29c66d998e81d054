from fastapi import APIRouter

from backend.api import (
    alarm_rules,
    audit,
    auth,
    billing,
    bookings,
    calendars,
    health,
    metrics,
    organizations,
    platforms,
    qualifications,
    quarantine,
    reports,
    resources,
    schedule,
    twins,
    usage,
    users,
    webhooks,
)

api_router = APIRouter(prefix="/api/v1")
for module in (
    auth,
    organizations,
    users,
    platforms,
    resources,
    qualifications,
    bookings,
    schedule,
    health,
    metrics,
    webhooks,
    calendars,
    twins,
    alarm_rules,
    quarantine,
    audit,
    usage,
    reports,
):
    api_router.include_router(module.router)
api_router.include_router(billing.vouchers)
api_router.include_router(billing.invoices)
