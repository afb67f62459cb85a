"""docker-compose.yml and the image as an operator of containers expects them: valid, pinned, checked for
health, stopped gently, and a build context without the virtual environment or the data."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tongket.worker.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))  # merges the << anchors
    assert isinstance(loaded, dict)
    return loaded


def seconds(text: str) -> int:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", text)
    assert match and text, text
    return int(match[1] or 0) * 60 + int(match[2] or 0)


def test_images_are_pinned() -> None:
    for name, service in compose()["services"].items():
        if "build" in service:
            continue  # tongket itself, built from this checkout
        image = service["image"]
        assert re.search(r":\S*\d", image) and not image.endswith(":latest"), f"{name}: {image} is not pinned"
    base = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()[0]
    assert re.fullmatch(r"FROM python:3\.11\.\d+-slim-\w+", base), base


def test_every_long_running_service_has_a_health_check() -> None:
    services = compose()["services"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["python", "-m", "tongket.cli.health", "worker"]' in dockerfile  # the image's: a ping of its worker
    for name in ("worker", "beat", "flower", "metrics", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["healthcheck"] == {"disable": True}


def test_worker_stops_gently_and_beat_keeps_its_schedule_in_the_volume() -> None:
    services = compose()["services"]
    assert seconds(services["worker"]["stop_grace_period"]) >= Settings().task_time_limit
    beat = services["beat"]["command"]
    assert beat[beat.index("--schedule") + 1].startswith("/data/")
    assert "tongket-data:/data" in services["beat"]["volumes"]


def test_sender_is_set_and_flower_has_no_data_volume() -> None:
    services = compose()["services"]
    sender = services["worker"]["environment"]["TONGKET_MAIL_FROM"]
    assert "@" in sender and "@localhost" not in sender
    assert services["flower"]["volumes"] == [] and services["metrics"]["volumes"] == []


def test_build_context_leaves_out_the_venv_and_data() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "var", ".git", ".env"} <= set(ignored)
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.index("requirements.lock") < dockerfile.index("COPY tongket")  # dependencies' own layer


def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker compose is not installed here; the YAML checks above ran")
    result = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "FLOWER_BASIC_AUTH": "admin:x", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
