"""The REST API: /api/, with its OpenAPI schema at /api/openapi.json and docs at /api/docs."""

import logging

from django.db import DataError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from regua.commerce.api import router as orders
from regua.core import ratelimits
from regua.core.api import AUTH
from regua.customers.api import router as contacts
from regua.desk.api import router as desk
from regua.events.api import router as events
from regua.loyalty.api import router as loyalty

api = NinjaAPI(
    title="Régua API",
    version="1",
    description=(
        "Push contacts, orders and events from your shop or product into Régua, and read "
        "contacts back. Authenticate with an API key (Settings → API keys) as "
        "`Authorization: Bearer <key>`."
    ),
    auth=AUTH,
    urls_namespace="api",
)
api.add_router("/", contacts)
api.add_router("/", events)
api.add_router("/", orders)
api.add_router("/", loyalty)
api.add_router("/", desk)


log = logging.getLogger(__name__)


@api.exception_handler(DataError)
def value_not_storable(request: HttpRequest, error: DataError) -> HttpResponse:
    """A value the database refused (a NUL character, a number or a date out of its
    range) that no validation caught: the client's input, so a 422, not a 500. Each
    such case found (schemathesis) gets its own validation, naming the field."""
    log.warning("API value refused by the database on %s", request.path)
    return api.create_response(
        request,
        {
            "detail": [
                {
                    "loc": ["body"],
                    "msg": "a value the database cannot store (a NUL character, or a "
                    "number or date out of range)",
                    "type": "value_error",
                }
            ]
        },
        status=422,
    )


@api.exception_handler(ratelimits.RateLimited)
def rate_limited(request: HttpRequest, error: ratelimits.RateLimited) -> HttpResponse:
    return ratelimits.api_too_many(error.wait)
