"""The last guard against personal data in the logs (docs/security.md §Logs).

Régua's own log lines name things by id (a delivery, an import, a ticket), never a
person. What they cannot control is the text of an exception from below: a database's
"Key (email)=(ana@example.com) already exists", an SMTP server's "<ana@example.com>:
mailbox unavailable". Every handler of settings.LOGGING runs this filter, which masks
e-mail addresses and phone numbers in the message, its arguments and the traceback
before the line is written.
"""

import logging
import re

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)*", re.UNICODE)
# +55 81 98877-6655, +5581988776655, (81) 98877-6655, 98877-6655, 3322-1100
PHONE = re.compile(r"\+\d[\d ()-]{9,18}\d|\(?\b\d{2}\)?[ ]?9?\d{4}-\d{4}\b|\b9?\d{4}-\d{4}\b")
MASK = "[redacted]"


def redact(text: str) -> str:
    return PHONE.sub(MASK, EMAIL.sub(MASK, text))


class PersonalDataFilter(logging.Filter):
    """Masks addresses and phone numbers in a record; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
