"""The Celery settings that long, idempotent tasks need, as the service-mode app gets them."""

from __future__ import annotations

from pathlib import Path

from tongket.worker.app import make_app
from tongket.worker.settings import Settings


def test_service_mode_settings_fit_long_idempotent_tasks(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        broker_url="redis://127.0.0.1:6379/5",
        task_time_limit=1200,
        timeout_render=1500,
        reconcile_seconds=30,
    )
    conf = make_app(settings).conf
    assert (conf.task_acks_late, conf.worker_prefetch_multiplier, conf.task_ignore_result) == (True, 1, True)
    assert conf.task_reject_on_worker_lost is False  # a crashing task is re-sent by the reconciler, not looped
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (1140, 1200)
    assert conf.worker_send_task_events and conf.task_send_sent_event  # Flower sees every task
    assert conf.broker_transport_options["visibility_timeout"] == 2 * 1200 + 600
    beat = {entry["task"]: entry for entry in conf.beat_schedule.values()}
    assert set(beat) == {
        "tongket.tick",
        "tongket.reconcile",
        "tongket.recover_deliveries",
        "tongket.remind_communes",
        "tongket.prune",
    }
    assert beat["tongket.reconcile"]["schedule"] == 30 and beat["tongket.reconcile"]["options"]["expires"] == 30
    assert all(task not in conf.task_routes for task in beat)  # small control tasks: the control queue


def test_the_intake_mailbox_is_polled_only_when_configured_and_on_the_collect_queue(tmp_path: Path) -> None:
    conf = make_app(
        Settings(data_dir=tmp_path, imap_url="imaps://intake@mail.example.vn/INBOX", intake_seconds=30)
    ).conf
    (entry,) = [e for e in conf.beat_schedule.values() if e["task"] == "tongket.poll_intake"]
    assert entry["schedule"] == 30 and conf.task_routes["tongket.poll_intake"]["queue"] == "collect"
    assert conf.task_routes["tongket.deliver_commune_mail"]["queue"] == "mail"


def test_embedded_mode_needs_no_server(tmp_path: Path) -> None:
    conf = make_app(Settings(data_dir=tmp_path)).conf
    assert conf.broker_url.startswith("fsqueue://")  # tongket.worker.fsqueue
    assert conf.task_default_queue == "control"
