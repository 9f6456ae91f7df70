"""The customer's side of the programme: the loyalty page and the referral link.

No login. The page link carries a signed token (tokens.py); a bad token is a plain 404,
so nobody can probe which customers exist. The referral link carries the public code
only: it reveals nothing but the first name of whoever shares it.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET

from regua.core import ratelimits
from regua.customers.models import Contact

from . import tokens
from .models import ReferralCode, Reward, Tier
from .selectors import loyalty_summary


@require_GET
def public_page(request: HttpRequest, token: str) -> HttpResponse:
    ident = tokens.read(token)
    contact = Contact.objects.filter(pk=ident).first() if ident else None
    if contact is None:
        raise Http404
    with translation.override(contact.language):
        response = render(
            request,
            "loyalty/public/page.html",
            {
                "brand": settings.REGUA_BRAND_NAME,
                "language": contact.language,
                "first_name": contact.first_name,
                "summary": loyalty_summary(contact),
                "tiers": Tier.objects.all(),
                "rewards": [r for r in Reward.objects.filter(active=True) if r.available],
            },
        )
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to other sites
    return response


@require_GET
def referral_landing(request: HttpRequest, code: str) -> HttpResponse:
    """Where a shared link lands: on to the shop with the code (REGUA_LOYALTY_SHOP_URL),
    which hands it back with the signup (POST /api/loyalty/referrals); without a shop
    address, a page showing the code to use at checkout. Counted per client address, so
    codes cannot be tried in bulk."""
    limited = ratelimits.refused(request, ratelimits.public_form("referral"))
    if limited:
        return limited
    found = ReferralCode.objects.filter(code=code.upper()).select_related("contact").first()
    if found is None:
        raise Http404
    shop = settings.REGUA_LOYALTY_SHOP_URL
    if shop:
        joiner = "&" if "?" in shop else "?"
        return HttpResponseRedirect(f"{shop}{joiner}{urlencode({'ref': found.code})}")
    language = translation.get_language_from_request(request)
    with translation.override(language):
        return render(
            request,
            "loyalty/public/referral.html",
            {
                "brand": settings.REGUA_BRAND_NAME,
                "language": language,
                "code": found.code,
                "referrer": found.contact.first_name,
            },
        )
