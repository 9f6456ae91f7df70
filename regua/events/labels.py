"""How the event names the product knows read on the pages."""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

EVENT_LABELS: dict[str, Promise] = {
    "signup": _("Signed up"),
    "login": _("Logged in"),
    "product_viewed": _("Viewed a product"),
    "cart_abandoned": _("Abandoned a cart"),
    "purchase": _("Purchase"),
    "upgrade": _("Upgraded the plan"),
    "downgrade": _("Downgraded the plan"),
    "cancellation": _("Cancelled"),
    "complaint": _("Complaint"),
    "nps_answered": _("Answered the NPS survey"),
    "referral_invited": _("Invited to refer a friend (NPS promoter)"),
    "review": _("Review"),
    "loyalty_tier_changed": _("Changed loyalty tier"),
    "loyalty_points_milestone": _("Reached a points milestone"),
}


def event_label(name: str) -> str:
    label = EVENT_LABELS.get(name)
    return str(label) if label is not None else name.replace("_", " ").capitalize()
