"""The FastAPI application factory. Engines and settings are made here, never at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from backend.adapters.influx import InfluxClient
from backend.api.health import router as health_router
from backend.api.metrics import router as metrics_router
from backend.api.router import API_PREFIX, API_ROUTERS
from backend.background import run_periodically
from backend.db import AsyncReader, make_engine
from backend.http.errors import install_error_handlers
from backend.http.middleware import install_nul_guard, install_request_observer
from backend.http.routes import add_routes
from backend.logs import get_logger
from backend.settings import Settings, get_settings
from backend.web import install_pages

log = get_logger("pilotshare.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_secret()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        app.state.engine = make_engine(settings)
        app.state.reader = (
            AsyncReader(app.state.engine) if app.state.engine.dialect.name == "postgresql" else None
        )
        app.state.influx = InfluxClient(settings.influx_url, settings.influx_db, settings.influx_token)
        log.info("api.start", database=settings.database_url.split("@")[-1], demo=settings.demo_mode)
        background = None
        if settings.background_seconds > 0:
            background = asyncio.create_task(
                run_periodically(app.state.engine, settings.background_seconds, settings=settings)
            )
        # What exists now (routes, models, compiled statements) lives as long as the process: out of the
        # collector's reach, a full collection walks only what requests leave behind. Without this each
        # one stalled the worker for 50-120 ms, every request it held included (docs/performance.md).
        gc.collect()
        gc.freeze()
        yield
        if background is not None:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
        gc.unfreeze()  # a process that goes on (tests start many apps) can collect them again
        app.state.influx.close()
        if app.state.reader is not None:
            await app.state.reader.close()
        app.state.engine.dispose()
        log.info("api.stop")

    app = FastAPI(
        title="PilotShare",
        version="0.1.0",
        summary="Book pilot lines, instruments and venues; watch them live; prove sharing performance.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are pages with their assets served here (backend/web/docs.py)
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_nul_guard(app)
    install_request_observer(app)
    add_routes(app, API_PREFIX, *API_ROUTERS)
    add_routes(app, "", health_router, metrics_router)
    install_pages(app)

    return app
