"""Platform webhooks: subscriber URLs for booking events, managed by the platform's operators."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from backend.domain.access import Principal, ensure_manages_platform
from backend.domain.errors import Invalid, NotFound
from backend.models.platform import Platform
from backend.models.webhook import Webhook, WebhookCreate
from backend.services.common import get_or_404


def target_problem(url: str, allow_private: bool = False) -> str | None:
    """Why PilotShare will not call ``url``, or None.

    A webhook is a request the server makes on an operator's behalf, so by default it may only reach
    public addresses: never the server itself, the database, the broker or a cloud metadata service
    (loopback, private, link-local, shared and reserved ranges). Checked when the webhook is created and
    again before every call, since a name can be pointed elsewhere later."""
    if allow_private:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        return f"cannot resolve {host!r}: {exc}"
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            return (
                f"{host} is {ip}, an internal address; webhooks go to public addresses only "
                "(set PILOTSHARE_WEBHOOK_ALLOW_PRIVATE=true where internal receivers are intended)"
            )
    return None


def create_webhook(
    session: Session, who: Principal, platform_id: int, data: WebhookCreate, allow_private: bool = False
) -> Webhook:
    ensure_manages_platform(who, platform_id)
    get_or_404(session, Platform, platform_id, "platform")
    problem = target_problem(data.url, allow_private)
    if problem:
        raise Invalid("url", problem)
    hook = Webhook(
        platform_id=platform_id, url=data.url, events=data.events, secret=secrets.token_urlsafe(32)
    )
    session.add(hook)
    session.flush()
    return hook


def list_webhooks(session: Session, who: Principal, platform_id: int) -> list[Webhook]:
    """The platform's operators and admins only: a receiver's URL may carry its own credentials."""
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
