from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.db.models import Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("customers:contact_list")


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: the app answers, its database does (else 503),
    and how late the oldest due message is: a régua delivery, a service desk reply.
    A growing lag means no worker is sending. Each lag is one indexed MIN query."""
    from regua.cadences.models import Delivery, DeliveryStatus
    from regua.desk.models import Message, SendStatus

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        now = timezone.now()
        oldest_delivery = Delivery.objects.filter(
            status=DeliveryStatus.SCHEDULED, due_at__lte=now
        ).aggregate(oldest=Min("due_at"))["oldest"]
        oldest_reply = Message.objects.filter(
            send_status=SendStatus.PENDING, next_attempt_at__lte=now
        ).aggregate(oldest=Min("next_attempt_at"))["oldest"]
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse(
        {
            "status": "ok",
            "database": "ok",
            "queue_lag_seconds": _lag(now, oldest_delivery),
            "desk_outbox_lag_seconds": _lag(now, oldest_reply),
        }
    )


def _lag(now: datetime, oldest: datetime | None) -> float:
    return round(max((now - oldest).total_seconds(), 0.0), 1) if oldest else 0.0
