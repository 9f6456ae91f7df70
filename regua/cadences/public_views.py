"""The customer's side of a message: open pixel, click redirect, unsubscribe, survey.

No login: each link carries a signed token (tokens.py). A bad token is a plain 404, so
nobody can probe which deliveries exist.
"""

import base64
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from regua.core import ratelimits
from regua.customers.models import Channel, ConsentStatus

from . import tokens
from .models import Delivery
from .surveys import Outcome, survey_answer, survey_answer_of
from .tracking import contact_unsubscribe, delivery_clicked, delivery_opened

# Posts are counted per client address; a one-click unsubscribe (RFC 8058), which the
# mail provider posts from its own servers for all its users, per link instead.
UNSUBSCRIBE_LIMIT = ratelimits.public_form("unsubscribe")
SURVEY_LIMIT = ratelimits.public_form("survey")
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
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        limit = ratelimits.public_link("unsubscribe") if one_click else UNSUBSCRIBE_LIMIT
        limited = ratelimits.refused(request, limit)
        if limited:
            return limited
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
    """The NPS question: 0–10 and an optional comment; the answer joins the timeline.

    Within the edit window the link shows the answer given, to change it (surveys.py);
    afterwards it says the answer stands."""
    if request.method == "POST":
        limited = ratelimits.refused(request, SURVEY_LIMIT)
        if limited:
            return limited
    delivery = _delivery("survey", token)
    contact = delivery.contact
    now = timezone.now()
    answer = survey_answer_of(delivery)
    error = ""
    outcome = None
    with translation.override(contact.language):
        if request.method == "POST":
            raw = request.POST.get("score", "")
            if raw.isdigit() and 0 <= int(raw) <= 10:
                comment = request.POST.get("comment", "")
                outcome = survey_answer(delivery=delivery, score=int(raw), comment=comment, now=now)
                answer = survey_answer_of(delivery)
            elif answer is not None and not answer.editable(now):
                outcome = Outcome.CLOSED
            else:
                error = translation.gettext("Choose a score from 0 to 10.")
        elif answer is not None and not answer.editable(now):
            outcome = Outcome.CLOSED
        return render(
            request,
            "cadences/public/survey.html",
            {
                "brand": settings.REGUA_BRAND_NAME,
                "contact": contact,
                "contact_zone": _zone(contact.time_zone),
                "scores": range(11),
                "answer": answer,
                "outcome": outcome,
                "answered": outcome is not None,
                "editable": answer is not None and answer.editable(now),
                "error": error,
                "language": contact.language,
            },
        )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return ZoneInfo(settings.TIME_ZONE)
