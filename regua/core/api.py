"""What every REST API router shares: authentication, permissions and error shapes.

Clients authenticate with an API key (created per user in Settings → API keys), sent as
`Authorization: Bearer <key>` or `X-API-Key: <key>`; a signed-in browser session works
too, for the interactive docs. A key acts as its user: reads see what the user sees,
and writing (ingest) needs a manager or an admin.
"""

from typing import Any

from django.http import HttpRequest
from ninja import Schema
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer, django_auth
from pydantic import field_validator

from regua.core import ratelimits
from regua.core.ingest import BatchResult
from regua.users.models import ApiKey, User

MAX_BATCH = 1000


class BearerKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return _bind(request, ApiKey.authenticate(token), token)


class HeaderKey(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        return _bind(request, ApiKey.authenticate(key or ""), key or "")


def _bind(request: HttpRequest, user: User | None, token: str) -> User | None:
    """The key's user, once the call is counted against the key's own rate limit
    (REGUA_RATELIMIT_API_KEY; the client address's limit is counted earlier, by
    ratelimits.ApiRateLimitMiddleware). Over it: RateLimited, a 429 (regua/api.py)."""
    if user is not None:
        wait = ratelimits.exceeded(request, ratelimits.api_key_limit(ApiKey.lookup_of(token)))
        if wait:
            raise ratelimits.RateLimited(wait)
        request.user = user
    return user


AUTH = [BearerKey(), HeaderKey(), django_auth]


def api_user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def require_writer(request: HttpRequest) -> User:
    user = api_user(request)
    if not user.manages:
        raise HttpError(403, "writing through the API needs a manager's or an admin's key")
    return user


class TextIn(Schema):
    """An input whose text may not hold a NUL character: PostgreSQL can neither store
    nor compare one, so without this a NUL is a 500 (schemathesis found them in the
    desk's and the loyalty programme's inputs); with it, a 422 that names the field."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("may not contain a NUL character")
        return value


class ErrorItem(Schema):
    index: int
    field: str
    message: str


class BatchOut(Schema):
    created: int
    updated: int
    unchanged: int
    skipped: int
    contacts_created: int
    errors: list[ErrorItem]


def batch_out(result: BatchResult) -> dict[str, Any]:
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "skipped": result.skipped,
        "contacts_created": result.contacts_created,
        "errors": [
            {"index": error.line, "field": error.field, "message": str(error.message)}
            for error in result.errors
        ],
    }


def validation_detail(
    errors: list[tuple[str, str]], prefix: tuple[Any, ...] = ()
) -> dict[str, Any]:
    """Our cleaning errors in the shape of django-ninja's own 422 responses."""
    return {
        "detail": [
            {"loc": ["body", *prefix, field], "msg": message, "type": "value_error"}
            for field, message in errors
        ]
    }
