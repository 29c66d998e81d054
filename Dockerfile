# One image for every PilotShare process (api, ingest, fleet): the command picks the role.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY backend backend
COPY edge_agent edge_agent
COPY scheduler scheduler
COPY simulators simulators
COPY pilotshare pilotshare
RUN pip install --no-cache-dir --no-deps . && useradd --system --uid 1000 pilotshare
USER pilotshare
EXPOSE 8000
CMD ["pilotshare", "api", "--host", "0.0.0.0", "--port", "8000"]
