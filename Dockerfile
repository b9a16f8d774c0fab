# Kirem: the API (`kirem serve`) or a background worker (`kirem worker`), from the project's wheel.
# docs/deployment.md explains the settings, the compose file and the health checks.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . && cp requirements.lock /wheels/

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KIREM_ENV=production \
    KIREM_HOST=0.0.0.0 \
    KIREM_PORT=8080 \
    KIREM_DATA_DIR=/var/lib/kirem
RUN groupadd --system --gid 10001 kirem \
    && useradd --system --uid 10001 --gid kirem --home-dir /var/lib/kirem --shell /usr/sbin/nologin kirem \
    && mkdir -p /var/lib/kirem \
    && chown kirem:kirem /var/lib/kirem
COPY --from=build /wheels /wheels
# the dependencies at the versions of requirements.lock, as every other install gets them
RUN pip install --no-cache-dir /wheels/*.whl -c /wheels/requirements.lock && rm -rf /wheels
USER kirem
WORKDIR /var/lib/kirem
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('KIREM_PORT', '8080') + '/readyz', timeout=4)"]
CMD ["kirem", "serve"]
