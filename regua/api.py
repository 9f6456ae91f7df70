"""The REST API: /api/, with its OpenAPI schema at /api/openapi.json and docs at /api/docs."""

from ninja import NinjaAPI

from regua.commerce.api import router as orders
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
