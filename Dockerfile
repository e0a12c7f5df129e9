# AMI PTCE: one image for the web (gunicorn), the Celery worker, Celery beat and the one-shot
# migration. See docs/operations.md and docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Runtime libraries only. WeasyPrint (PDF exports) needs Pango: libpango-1.0-0 and
# libpangoft2-1.0-0 (they pull fontconfig and the DejaVu fonts). psycopg[binary] bundles libpq,
# and the healthcheck below uses Python, so neither libpq nor curl is installed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    && rm -rf /var/lib/apt/lists/*

# Non-root user. The private files directory exists in the image and belongs to that user, so a
# fresh named volume mounted there inherits the ownership.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/ami/private \
    && chown app:app /var/lib/ami/private

# Dependencies first, from the runtime lock alone (exact versions and the hash of every file,
# generated from pyproject.toml by `make lock`), so this layer is rebuilt only when it changes.
WORKDIR /tmp/deps
COPY requirements/base.txt ./
RUN pip install --no-cache-dir --require-hashes -r base.txt \
    && rm -rf /tmp/deps

# The code stays owned by root: the app user can read it, not change it.
WORKDIR /app
COPY . .

ENV DJANGO_SETTINGS_MODULE=ami.settings.production \
    PRIVATE_MEDIA_ROOT=/var/lib/ami/private \
    PORT=8000 \
    GUNICORN_WORKERS=3 \
    GUNICORN_THREADS=1 \
    GUNICORN_TIMEOUT=60

# Static files are collected into the image (served by whitenoise). Production settings refuse to
# load without their variables, so dummy values are given to this RUN line only: collectstatic
# touches neither the database nor the broker, and none of these values end up in the image.
RUN SECRET_KEY=build-only-dummy-secret-key-never-used-at-runtime-0123456789 \
    ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build@localhost/build \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput

USER 10001:10001

EXPOSE 8000

# /sante/ answers 200 when Django serves and its database, cache and broker answer (503 naming
# the failing part otherwise). The request carries the first ALLOWED_HOSTS entry and
# X-Forwarded-Proto (as the TLS proxy would), so neither the host check nor SECURE_SSL_REDIRECT
# gets in the way. Worker and beat override or disable this check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import http.client, os, sys; host = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.*') or 'localhost'; c = http.client.HTTPConnection('127.0.0.1', int(os.environ.get('PORT', '8000')), timeout=4); c.request('GET', '/sante/', headers={'Host': host, 'X-Forwarded-Proto': 'https'}); sys.exit(0 if c.getresponse().status == 200 else 1)"

# Logs: gunicorn access log on stdout, errors and Django's logging on stderr (docker logs).
CMD ["sh", "-c", "exec gunicorn ami.wsgi:application --bind 0.0.0.0:${PORT} --workers ${GUNICORN_WORKERS} --threads ${GUNICORN_THREADS} --timeout ${GUNICORN_TIMEOUT} --worker-tmp-dir /dev/shm --access-logfile - --error-logfile -"]
