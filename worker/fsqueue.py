"""The embedded queue ("fsqueue://"): kombu's filesystem transport, made sturdy.

kombu's own transport writes a message file in place (a reader may find it half-written and crash the
worker on it) and claims a message by moving it to the system's temp folder (a copy when that is another
disk). Here a message is written under a staging folder and renamed into the queue, so a reader sees a whole
file or none; a reader claims it by renaming it into a processing folder beside the queue (atomic on one
file system: two workers never take the same message); and a file that still does not parse (left by an
older version, or damaged) is moved to `broken/` and logged instead of stopping the worker.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    # The stubs of kombu's two base classes disagree on this signature; this is filesystem.Channel's.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        staging = _beside(self.data_folder_out, "staging")
        temporary = staging / name
        try:
            with temporary.open("wb") as handle:
                handle.write(dumps(payload).encode())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, Path(self.data_folder_out) / name)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise ChannelError(f"cannot queue a message in {self.data_folder_out}: {exc}") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        ending = f".{queue}.msg"
        folder = Path(self.data_folder_in)
        processing = _beside(self.data_folder_in, "processing")
        for name in sorted(os.listdir(folder)):
            if not name.endswith(ending):
                continue
            claimed = processing / name
            try:
                os.rename(folder / name, claimed)
            except OSError:
                continue  # another worker took it
            try:
                payload: dict[str, Any] = loads(claimed.read_bytes().decode("utf-8"))
                if not isinstance(payload, dict):
                    raise ValueError(f"not a message: {type(payload).__name__}")
            except (ValueError, UnicodeDecodeError) as exc:
                broken = _beside(self.data_folder_in, "broken") / name
                os.replace(claimed, broken)
                log.error("embedded queue: %s does not parse (%s); moved to %s", name, exc, broken)
                continue
            claimed.unlink()
            return payload
        raise Empty()


def _beside(queue_folder: str, name: str) -> Path:
    folder = Path(queue_folder).parent / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES["fsqueue"] = "tongket.worker.fsqueue:Transport"
