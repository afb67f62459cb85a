"""Issue 11, item 6: the drop directory is a fence. A symlink in a commune's folder is not followed (the
outside file is neither read nor quoted back), and a source's folder cannot lead out of the directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import district
from tests.processes import environment, tongket
from tongket.models.errors import SourceBroken
from tongket.models.periods import Period
from tongket.models.tables import Source, Submission
from tongket.worker.collect.collect import gather, sources_of
from tongket.worker.collect.filedrop import unit_folder
from tongket.worker.collect.step import limits
from tongket.worker.settings import Settings

SECRET = "mat-khau-ngoai-hang-rao"


def outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "passwd.csv"
    secret.parent.mkdir()
    secret.write_text(f"unit_code,period,indicator,value\n{SECRET},2023,x,1\n", encoding="utf-8")
    return secret


def test_a_symlink_in_a_commune_folder_is_not_followed(session: Session, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url="sqlite://")
    _, (unit,) = district(session, communes=1)
    folder = settings.dropbox_dir / unit.code
    folder.mkdir(parents=True)
    (folder / "2023.csv").symlink_to(outside_file(tmp_path))

    gathered = gather(
        unit.code, sources_of(session, unit), Period.parse("2023"), settings.dropbox_dir, limits(settings)
    )

    assert gathered.deliveries == []
    assert SECRET not in repr(gathered)


def test_a_folder_linking_out_of_the_drop_directory_is_refused(session: Session, tmp_path: Path) -> None:
    dropbox = tmp_path / "data" / "dropbox"
    dropbox.mkdir(parents=True)
    (dropbox / "24901").symlink_to(outside_file(tmp_path).parent)
    with pytest.raises(SourceBroken, match="leading out"):
        unit_folder(dropbox, "24901")
    for bad in ("../outside", "/etc", "a/../../outside"):
        with pytest.raises(SourceBroken):
            unit_folder(dropbox, bad)


@pytest.mark.parametrize("folder", ["../outside", "/etc", "24901/../../x"])
def test_the_cli_refuses_a_folder_outside_the_drop_directory(
    session: Session, db_url: str, tmp_path: Path, folder: str
) -> None:
    _, (unit,) = district(session, communes=1)
    session.commit()
    env = environment(tmp_path / "data", database_url=db_url)
    added = tongket("sources", "add", "--unit", unit.code, "--kind", "file_drop", "--folder", folder, env=env)
    assert added.returncode == 1, added.stdout + added.stderr
    assert "inside the drop directory" in added.stderr
    assert session.scalars(select(Source).where(Source.settings["folder"].as_string() == folder)).all() == []


def test_a_run_through_the_real_command_never_quotes_the_outside_file(
    session: Session, db_url: str, tmp_path: Path
) -> None:
    _, (unit,) = district(session, communes=1)
    session.commit()
    data = tmp_path / "data"
    folder = data / "dropbox" / unit.code
    folder.mkdir(parents=True)
    (folder / "2023.csv").symlink_to(outside_file(tmp_path))
    env = environment(data, database_url=db_url)
    checked = tongket("sources", "check", str(session.scalars(select(Source.id)).one()), "--period", "2023", env=env)
    assert SECRET not in checked.stdout + checked.stderr
    assert session.scalars(select(Submission)).all() == []
