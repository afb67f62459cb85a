"""A real IMAP server for tests: Debian's dovecot (package dovecot-imapd), started with a configuration of
its own in a temporary folder, on a free loopback port, with one mailbox user. Run as an ordinary user it
needs no privilege; run as root (a CI container) its processes drop to the package's `dovecot` and
`dovenull` users, as dovecot requires."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from tests.smtp_server import free_port

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
USER, PASSWORD = "intake", "s3cret-intake"


class ImapServer:
    def __init__(self) -> None:
        assert DOVECOT is not None
        # Not under pytest's private tmp: dovecot's own users must be able to reach its sockets and mail.
        self.root = Path(tempfile.mkdtemp(prefix="tongket-dovecot-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"imap://{USER}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> ImapServer:
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir()
        internal, login, mail_uid, mail_gid = self._users()
        if os.geteuid() == 0:
            for sub in ("mail", "home"):
                os.chown(self.root / sub, mail_uid, mail_gid)
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (self.root / "dovecot.conf").write_text(self._config(internal, login, mail_uid, mail_gid))
        self._stderr = (self.root / "stderr.log").open("wb")
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with self.client():
                    return self
            except (OSError, imaplib.IMAP4.error):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"dovecot did not start: {self.log()[-2000:]}") from None
                time.sleep(0.1)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes) -> None:
        with self.client() as client:
            status, data = client.append("INBOX", None, None, raw)
            assert status == "OK", data

    def flags(self) -> dict[int, str]:
        """UID -> the message's flags, as the server keeps them."""
        with self.client() as client:
            client.select("INBOX")
            _, data = client.uid("FETCH", "1:*", "(UID FLAGS)")
        found = {}
        for line in data:
            if isinstance(line, bytes) and b"UID" in line:
                text = line.decode()
                uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
                found[uid] = text.split("FLAGS (", 1)[1].split(")", 1)[0]
        return found

    def log(self) -> str:
        parts = [self.root / "dovecot.log", self.root / "stderr.log"]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if self._stderr is not None:
            self._stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def _users(self) -> tuple[str, str, int, int]:
        me = pwd.getpwuid(os.geteuid())
        if os.geteuid() != 0:
            return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
        dovecot, dovenull = pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull")  # made by the Debian package
        return dovecot.pw_name, dovenull.pw_name, dovecot.pw_uid, dovecot.pw_gid

    def _config(self, internal: str, login: str, uid: int, gid: int) -> str:
        root = self.root
        return f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = tongket-test-{self.port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(gid).gr_name}
default_login_user = {login}
mail_location = maildir:{root}/mail/%u
first_valid_uid = {min(uid, 1)}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""
