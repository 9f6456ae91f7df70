"""regua run: the web app (gunicorn) and the background worker together, until Ctrl-C.

For one machine (the demo, a small shop). In production run `gunicorn regua.wsgi` and
`regua worker` as separate services instead (docs/deploy.md).
"""

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand

from regua.users.models import User


class Command(BaseCommand):
    help = "Start the web app and the background worker; Ctrl-C stops both."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 3))
        )

    def handle(self, *args: Any, **options: Any) -> None:
        address = f"{options['host']}:{options['port']}"
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "regua.wsgi:application",
                "--bind",
                address,
                "--workers",
                str(options["web_workers"]),
                "--timeout",
                "120",
            ]
        )
        worker = subprocess.Popen([sys.executable, "-m", "regua", "worker"])
        children = [web, worker]
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"Régua is running at http://{address}/ (Ctrl-C stops it).")
        if User.objects.filter(email="admin@regua.demo").exists():
            self.stdout.write("Sign in as admin@regua.demo with the password regua-demo.")
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        failed = [child.args[2] for child in children if child.returncode not in (0, -15, None)]
        if failed and not stopping:
            sys.exit(1)
