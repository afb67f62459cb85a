FROM python:3.11.9-slim-bookworm

# No system fonts: the PDF's serif (Crimson Text) comes with requirements.lock, so the image renders the same
# bytes as any other machine; an office's Times New Roman can be mounted and named by TONGKET_FONT_DIR.
WORKDIR /app
# Dependencies first, at the tested versions, in a layer of their own that a code change does not rebuild.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY models ./models
COPY worker ./worker
COPY scheduler ./scheduler
# tongket/ links the three folders above in: they install as tongket.models, tongket.worker, tongket.scheduler.
COPY tongket ./tongket
RUN pip install --no-cache-dir --no-deps .

RUN useradd --create-home --uid 1000 tongket && mkdir /data && chown tongket /data
USER tongket
ENV TONGKET_DATA_DIR=/data PYTHONUNBUFFERED=1
VOLUME /data
# The worker's health: it answers a ping over the broker. docker-compose.yml gives beat, Flower and the
# metrics server their own checks and switches it off for the one-shot migrate.
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s --retries=3 \
    CMD ["python", "-m", "tongket.cli.health", "worker"]
CMD ["tongket", "--help"]
