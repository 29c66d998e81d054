"""Tables, one module per aggregate. Importing this package registers every table on SQLModel.metadata."""

from backend.models.organization import Organization
from backend.models.platform import Platform
from backend.models.qualification import Qualification
from backend.models.rate import RateCard
from backend.models.resource import (
    MaintenanceWindow,
    Resource,
    ResourceAttribute,
    ResourceCapability,
    ResourceMember,
)
from backend.models.user import User

__all__ = [
    "MaintenanceWindow",
    "Organization",
    "Platform",
    "Qualification",
    "RateCard",
    "Resource",
    "ResourceAttribute",
    "ResourceCapability",
    "ResourceMember",
    "User",
]
