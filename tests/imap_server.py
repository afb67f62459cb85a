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
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from tests.smtp_server import free_port

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
USER, PASSWORD = "intake", "s3cret-intake"


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signs for 127.0.0.1 (openssl CLI): (ca, cert, key) PEM files."""
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ext = folder / "server.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    quiet = {"check": True, "capture_output": True}
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=tongket test CA"],
        **quiet,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        **quiet,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "2", "-extfile", ext],
        **quiet,
    )  # fmt: skip
    return ca, cert, key


class ImapServer:
    """With tls=True it listens for imaps (TLS from the start) with a certificate signed by a CA of its own
    (`ca_file`), and refuses plain logins."""

    def __init__(self, tls: bool = False) -> None:
        assert DOVECOT is not None
        self.tls = tls
        self.ca_file: Path | None = None
        self._cert = self._key = Path()
        # Not under pytest's private tmp: dovecot's own users must be able to reach its sockets and mail.
        self.root = Path(tempfile.mkdtemp(prefix="tongket-dovecot-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"{'imaps' if self.tls else 'imap'}://{USER}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> ImapServer:
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir()
        internal, login, mail_uid, mail_gid = self._users()
        if os.geteuid() == 0:
            for sub in ("mail", "home"):
                os.chown(self.root / sub, mail_uid, mail_gid)
        if self.tls:
            self.ca_file, self._cert, self._key = make_certificates(self.root / "run")
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
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.ca_file))
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=10)
        else:
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

    def _tls_config(self) -> str:
        if not self.tls:
            return "ssl = no\ndisable_plaintext_auth = no"
        return f"ssl = required\nssl_cert = <{self._cert}\nssl_key = <{self._key}\ndisable_plaintext_auth = yes"

    def _config(self, internal: str, login: str, uid: int, gid: int) -> str:
        root = self.root
        return f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = tongket-test-{self.port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{self._tls_config()}
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
    port = {0 if self.tls else self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.port if self.tls else 0}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
