"""Platform webhooks: subscriber URLs for booking events, managed by the platform's operators."""

from __future__ import annotations

import secrets

from sqlmodel import Session, col, select

from backend.domain.access import Principal, ensure_manages_platform
from backend.domain.errors import NotFound
from backend.models.booking import Webhook
from backend.models.platform import Platform
from backend.models.webhook import WebhookCreate
from backend.services.common import get_or_404


def create_webhook(session: Session, who: Principal, platform_id: int, data: WebhookCreate) -> Webhook:
    ensure_manages_platform(who, platform_id)
    get_or_404(session, Platform, platform_id, "platform")
    hook = Webhook(
        platform_id=platform_id, url=data.url, events=data.events, secret=secrets.token_urlsafe(32)
    )
    session.add(hook)
    session.flush()
    return hook


def list_webhooks(session: Session, who: Principal, platform_id: int) -> list[Webhook]:
    ensure_manages_platform(who, platform_id)
    return list(
        session.exec(
            select(Webhook)
            .where(Webhook.platform_id == platform_id, col(Webhook.active).is_(True))
            .order_by(col(Webhook.id))
        )
    )


def delete_webhook(session: Session, who: Principal, platform_id: int, webhook_id: int) -> None:
    """Stop calling the URL. The row stays (inactive) so queued calls to it end as failed, not lost."""
    ensure_manages_platform(who, platform_id)
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.platform_id != platform_id or not hook.active:
        raise NotFound(f"webhook {webhook_id} does not exist on platform {platform_id}")
    hook.active = False
    session.add(hook)
