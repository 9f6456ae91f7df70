"""Webhook steps: a JSON POST signed with HMAC-SHA256, retried on 5xx and timeouts.

The receiver checks `X-Regua-Signature: sha256=<hex of HMAC(secret, body)>` and may use
`X-Regua-Delivery` to ignore a repeat.
"""

import hashlib
import hmac
import json
import urllib.request

from django.conf import settings

from .base import Outgoing, Result
from .text import http_result


def signature(body: bytes, secret: str | None = None) -> str:
    key = (secret or settings.REGUA_WEBHOOK_SECRET).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class WebhookBackend:
    def open(self) -> None:
        pass

    def send(self, message: Outgoing) -> Result:
        body = json.dumps(message.payload, ensure_ascii=False, default=str).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked on save
            message.to,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Regua-Webhook/1",
                "X-Regua-Signature": signature(body),
                "X-Regua-Delivery": str(message.delivery_id),
            },
        )
        return http_result(request)

    def close(self) -> None:
        pass
