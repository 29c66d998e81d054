from __future__ import annotations

from fastapi import APIRouter, status

from backend.http.deps import Caller, SessionDep, SettingsDep
from backend.models.common import Id, Page
from backend.models.webhook import Webhook, WebhookCreate, WebhookCreated, WebhookPublic
from backend.services.notifications import webhooks as service

router = APIRouter(prefix="/platforms/{platform_id}/webhooks", tags=["webhooks"])


def _public(hook: Webhook) -> WebhookPublic:
    return WebhookPublic.model_validate(hook, from_attributes=True)


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(
    session: SessionDep, who: Caller, settings: SettingsDep, platform_id: Id, data: WebhookCreate
) -> WebhookCreated:
    """Subscribe a URL to the platform's booking events. Each call is a JSON POST signed with
    `X-PilotShare-Signature: sha256=<HMAC-SHA256 of the body>`; the secret is shown only in this answer."""
    hook = service.create_webhook(session, who, platform_id, data, settings.webhook_allow_private)
    return WebhookCreated.model_validate(hook, from_attributes=True)


@router.get("", response_model=Page[WebhookPublic])
def list_webhooks(session: SessionDep, who: Caller, platform_id: Id) -> Page[WebhookPublic]:
    rows = service.list_webhooks(session, who, platform_id)
    return Page(data=[_public(h) for h in rows], count=len(rows))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(session: SessionDep, who: Caller, platform_id: Id, webhook_id: Id) -> None:
    service.delete_webhook(session, who, platform_id, webhook_id)
