"""Régua's settings with the SQLite database capped at REGUA_TEST_MAX_PAGES pages.

SQLite refuses to grow the file past `PRAGMA max_page_count` with the very error a full
disk gives ("database or disk is full"); the pragma lives per connection, so a process
of test_faults gets it through its settings. A star import, unlike in regua/settings.py:
this module is the real settings plus one line.
"""

import os

from regua.settings import *  # noqa: F403
from regua.settings import DATABASES

DATABASES["default"]["OPTIONS"]["init_command"] += (
    f"PRAGMA max_page_count = {int(os.environ['REGUA_TEST_MAX_PAGES'])};"
)
