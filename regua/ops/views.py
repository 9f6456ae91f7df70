import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from .metrics import metrics_text
from .status import queue_lags, system_status, workers_read


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: the app answers, its database does (else 503),
    how late the oldest due message is (a régua delivery, a service desk reply; a growing
    lag means no worker is sending) and how many workers beat recently."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        now = timezone.now()
        queue_lag, desk_lag = queue_lags(now)
        alive = sum(worker.alive for worker in workers_read(now))
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse(
        {
            "status": "ok",
            "database": "ok",
            "queue_lag_seconds": queue_lag,
            "desk_outbox_lag_seconds": desk_lag,
            "workers_alive": alive,
        }
    )


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrapes with `Authorization: Bearer $REGUA_METRICS_TOKEN`; a manager
    signed in may read it in the browser. Anyone else gets 401."""
    if not (_bearer_ok(request) or _manager(request)):
        response = HttpResponse(_("Metrics need a token or a manager's login."), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="regua"'
        return response
    try:
        body = metrics_text(system_status())
    except DatabaseError:
        return HttpResponse("database unreachable\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type="text/plain; version=0.0.4; charset=utf-8")


def _bearer_ok(request: HttpRequest) -> bool:
    token = settings.REGUA_METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def _manager(request: HttpRequest) -> bool:
    return request.user.is_authenticated and request.user.manages  # type: ignore[union-attr]


@login_required
def status(request: HttpRequest) -> HttpResponse:
    """The workers and the queues, for managers; htmx refreshes the panel every 10 s."""
    if not _manager(request):
        raise PermissionDenied(_("Only managers and administrators can see the system status."))
    template = "ops/status_panel.html" if request.htmx else "ops/status.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        {"status": system_status(), "stale_seconds": settings.REGUA_WORKER_STALE_SECONDS},
    )
