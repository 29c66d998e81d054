from fastapi import APIRouter

from backend.api import auth, health, organizations, platforms, qualifications, resources, users

api_router = APIRouter(prefix="/api/v1")
for module in (auth, organizations, users, platforms, resources, qualifications, health):
    api_router.include_router(module.router)
