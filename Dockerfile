# One image for every PilotShare process (api, ingest, fleet): the command picks the role.
# The web pages' browser assets come from the npm registry, pinned by their lock file.
FROM node:20-slim AS assets
WORKDIR /assets
COPY backend/web/assets/ ./
RUN npm ci --no-audit --no-fund --ignore-scripts --loglevel=error \
 && mkdir vendor && grep -v '^\s*#' vendor.txt | while read -r served source; do \
      [ -z "$served" ] || cp "node_modules/$source" "vendor/$served"; done \
 && sed -i 's#https://cdn.redoc.ly/redoc/logo-mini.svg#/static/favicon.svg#g' vendor/redoc.standalone.js

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
COPY --from=assets /assets/vendor backend/web/static/vendor
RUN pybabel -q compile -d backend/web/locales -D messages \
 && pip install --no-cache-dir --no-deps . && useradd --system --uid 1000 pilotshare
USER pilotshare
EXPOSE 8000
CMD ["pilotshare", "api", "--host", "0.0.0.0", "--port", "8000"]
