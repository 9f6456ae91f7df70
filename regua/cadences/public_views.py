"""The customer's side of a message: open pixel, click redirect, unsubscribe, survey.

No login: each link carries a signed token (tokens.py). A bad token is a plain 404, so
nobody can probe which deliveries exist.
"""

import base64
from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from regua.analytics.kpis import nps_category
from regua.customers.models import Channel, ConsentStatus

from . import tokens
from .models import Delivery
from .tracking import (
    contact_unsubscribe,
    delivery_clicked,
    delivery_opened,
    event_record,
    event_recorded,
)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
CHANNELS = [Channel.EMAIL, Channel.SMS, Channel.WHATSAPP]


def _delivery(purpose: str, token: str, extra: str = "") -> Delivery:
    ident = tokens.read(purpose, token, extra)
    delivery = (
        Delivery.objects.select_related("contact", "cadence", "step").filter(pk=ident).first()
        if ident
        else None
    )
    if delivery is None:
        raise Http404
    return delivery


@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    ident = tokens.read("open", token)
    if ident:
        delivery = Delivery.objects.select_related("cadence", "step").filter(pk=ident).first()
        if delivery is not None:
            delivery_opened(delivery)
    # The image either way: a mail client shows nothing broken.
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    target = request.GET.get("u", "")
    if not target.startswith(("https://", "http://")):
        raise Http404
    delivery = _delivery("click", token, target)
    delivery_clicked(delivery, target)
    return HttpResponseRedirect(target)


@csrf_exempt  # the token is the proof; mail clients post without a session (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    delivery = _delivery("unsubscribe", token)
    contact = delivery.contact
    with translation.override(contact.language):
        if request.method == "POST" and request.POST.get("List-Unsubscribe") == "One-Click":
            contact_unsubscribe(contact, ["email"], source="one-click", delivery=delivery)
            return HttpResponse("OK", content_type="text/plain")
        done = None
        if request.method == "POST":
            chosen = [c for c in request.POST.getlist("channels") if c in CHANNELS]
            done = contact_unsubscribe(
                contact, chosen, source="unsubscribe page", delivery=delivery
            )
        granted = set(
            contact.consents.filter(status=ConsentStatus.GRANTED).values_list("channel", flat=True)
        )
        return render(
            request,
            "cadences/public/unsubscribe.html",
            {
                "brand": settings.REGUA_BRAND_NAME,
                "contact": contact,
                "channels": [(c, c.label, c in granted) for c in CHANNELS],
                "done": done,
                "posted": request.method == "POST",
                "language": contact.language,
            },
        )


@csrf_exempt  # reached from an e-mail; the signed token is the proof
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The NPS question: 0–10 and an optional comment; the answer joins the timeline."""
    delivery = _delivery("survey", token)
    contact = delivery.contact
    error = ""
    answered = False
    with translation.override(contact.language):
        if request.method == "POST":
            raw = request.POST.get("score", "")
            if event_recorded(delivery, "nps_answered"):
                # One answer per survey link: a second post (a reload, a reused link)
                # changes nothing and does not call a detractor twice.
                answered = True
            elif raw.isdigit() and 0 <= int(raw) <= 10:
                score = int(raw)
                comment = request.POST.get("comment", "")[:2000]
                category = nps_category(score)
                now = timezone.now()
                event_record(
                    delivery,
                    "nps_answered",
                    now,
                    {"score": score, "category": category, "comment": comment},
                )
                _close_the_loop(delivery, score, category, comment, now)
                answered = True
            else:
                error = translation.gettext("Choose a score from 0 to 10.")
        return render(
            request,
            "cadences/public/survey.html",
            {
                "brand": settings.REGUA_BRAND_NAME,
                "contact": contact,
                "scores": range(11),
                "answered": answered,
                "error": error,
                "language": contact.language,
            },
        )


def _close_the_loop(
    delivery: Delivery, score: int, category: str, comment: str, now: datetime
) -> None:
    """A detractor gets a call from the owner by the next business day; a promoter gets
    a referral invitation event (with their referral code) that a régua can trigger on."""
    from regua.agenda.services import task_for_detractor
    from regua.loyalty.services import referral_codes_ensure

    if category == "detractor":
        with translation.override(settings.LANGUAGE_CODE):  # the team reads it, not the contact
            task_for_detractor(contact=delivery.contact, score=score, comment=comment, now=now)
    elif category == "promoter":
        code = referral_codes_ensure(contact_ids=[delivery.contact_id])[delivery.contact_id]
        event_record(delivery, "referral_invited", now, {"score": score, "referral_code": code})
