"""Régua's commands as subprocesses of a test, against the test's own database.

On PostgreSQL the subprocess opens the test database itself (such tests run with
`transaction=True`, so the data is committed). pytest-django's SQLite test database
lives in memory, which another process cannot open: it is copied to a file under
tmp_path before each run (`WorkerDatabase.hand_over`) and copied back after it
(`take_back`), so the test reads and writes through the ORM either way.
"""

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


class WorkerDatabase:
    """The test database as a subprocess can open it: its URL, and for an in-memory
    SQLite database a file copy handed over before each run and taken back after it."""

    def __init__(self, tmp_path: Path) -> None:
        db = connection.settings_dict
        self.file: Path | None = None
        if connection.vendor == "sqlite":
            if connection.is_in_memory_db():  # type: ignore[attr-defined]
                self.file = tmp_path / "worker.sqlite3"
            self.url = f"sqlite:///{self.file or db['NAME']}"
        else:
            assert connection.vendor == "postgresql"
            user = quote(db["USER"] or "", safe="")
            password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
            self.url = (
                f"postgres://{user}{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
                f"/{db['NAME']}"
            )

    def hand_over(self) -> None:
        """Before the subprocess runs: give it the current data."""
        if self.file is None:
            return
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.file}{suffix}").unlink(missing_ok=True)
        connection.ensure_connection()
        with sqlite3.connect(self.file) as target:
            connection.connection.backup(target)
        target.close()

    def take_back(self) -> None:
        """After the subprocess stopped (or was killed): see what it did."""
        if self.file is None:
            return
        connection.ensure_connection()
        source = sqlite3.connect(self.file)  # recovers the WAL of a killed process
        source.backup(connection.connection)
        source.close()

    def scalar(self, sql: str) -> int:
        """While the subprocess runs: one number it has committed (a count, a sum)."""
        if self.file is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return int(cursor.fetchone()[0] or 0)
        reader = sqlite3.connect(f"file:{self.file}?mode=ro", uri=True, timeout=5)
        try:
            return int(reader.execute(sql).fetchone()[0] or 0)
        finally:
            reader.close()


class ReguaProcess:
    """`python -m regua ARGS...` as a subprocess on the test database; output to a log."""

    def __init__(
        self, database: WorkerDatabase, tmp_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.log = tmp_path / "process.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
        self.env.update(
            DJANGO_SETTINGS_MODULE="regua.settings",
            DATABASE_URL=database.url,
            REGUA_VAR_DIR=str(tmp_path / "var"),
            # The same key and domain as here, so Delivery.message_id agrees.
            SECRET_KEY=settings.SECRET_KEY,
            REGUA_MESSAGE_ID_DOMAIN=settings.REGUA_MESSAGE_ID_DOMAIN,
            LOG_LEVEL="WARNING",
        )
        self.env.update(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "regua", *args],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def run(self, *args: str, timeout: float = 60) -> int:
        """Run to the end; its exit code."""
        self.start(*args)
        return self.wait(timeout)

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the process did not end:\n{self.output()}") from None
        finally:
            self.process = None

    def signal(self, signum: int, *, timeout: float = 10) -> int:
        """Send `signum` and wait for the process to end; its exit code."""
        assert self.process is not None
        self.process.send_signal(signum)
        return self.wait(timeout)

    def wait_for(self, condition: Callable[[], bool], seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the process exited early:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for the process:\n{self.output()}")
            time.sleep(0.01)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""

    def stop_if_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def worker_env(smtp_port: int, batch: int) -> dict[str, str]:
    """The delivery worker's settings: SMTP to the test's server, no quiet hours."""
    return {
        "EMAIL_BACKEND": "smtp",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "5",
        "REGUA_QUIET_HOURS": "",
        "REGUA_SEND_BATCH": str(batch),
    }
