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

API_PREFIX = "/api/v1"
# The API's routers, in the order their routes are tried (the first match wins; no two routers share a
# path). Each route is added to the application on its own (backend.http.routes.add_routes); the
# busiest paths (the public catalog's availability query and booking) come first all the same.
API_ROUTERS = (
    resources.router,
    bookings.router,
    auth.router,
    organizations.router,
    users.router,
    platforms.router,
    qualifications.router,
    schedule.router,
    health.router,
    metrics.router,
    webhooks.router,
    calendars.router,
    twins.router,
    alarm_rules.router,
    quarantine.router,
    audit.router,
    usage.router,
    reports.router,
    billing.vouchers,
    billing.invoices,
)
