from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from regua.core import ratelimits

from . import signin, twofactor
from .models import ApiKey, User


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What uses this key, e.g. “Loja virtual”."),
    )


@login_required
def api_keys(request: HttpRequest) -> HttpResponse:
    """The user's API keys; a new key's secret is shown once, right after creation."""
    token = None
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _key, token = ApiKey.generate(user=request.user, name=form.cleaned_data["name"])  # type: ignore[arg-type]
        form = ApiKeyForm()
    keys = ApiKey.objects.filter(user=request.user)  # type: ignore[misc]
    return render(request, "users/api_keys.html", {"form": form, "keys": keys, "token": token})


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=key_id, user=request.user)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        messages.success(request, _("The key “%(name)s” was revoked.") % {"name": key.name})
    return redirect("users:api_keys")


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Settings → Two-factor sign-in: enrol (QR code, then a code), new backup codes,
    turn it off (with a code). Backup codes are shown once, in the answer that made them."""
    user: User = request.user  # type: ignore[assignment]
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = CodeForm(request.POST if action in ("confirm", "disable", "backup") else None)
    codes: list[str] = []
    if action:
        limited = ratelimits.refused(request, signin.LOGIN_CODE)
        if limited:
            return limited
    if action == "start" and not twofactor.has_two_factor(user):
        twofactor.enrolment_start(user=user)
        form = CodeForm()
    elif action == "confirm" and form.is_valid():
        done = twofactor.enrolment_confirm(user=user, code=form.cleaned_data["code"])
        if done is None:
            form.add_error("code", _("This code is not valid. Check the time on your phone."))
        else:
            device, codes = done
            otp_login(request, device)
            messages.success(request, _("Two-factor sign-in is on."))
    elif action == "disable" and form.is_valid():
        if twofactor.two_factor_disable(user=user, code=form.cleaned_data["code"]):
            messages.success(request, _("Two-factor sign-in is off."))
            return redirect("users:two_factor")
        form.add_error("code", _("This code is not valid. Check the time on your phone."))
    elif action == "backup" and form.is_valid():
        if twofactor.code_device(user, form.cleaned_data["code"]) is not None:
            codes = twofactor.backup_codes_renew(user=user)
        else:
            form.add_error("code", _("This code is not valid. Check the time on your phone."))
    enabled = twofactor.has_two_factor(user)
    pending = None if enabled else twofactor.pending_device(user)
    return render(
        request,
        "users/two_factor.html",
        {
            "enabled": enabled,
            "required": twofactor.two_factor_required(user),
            "pending": pending,
            "qr": twofactor.qr_svg(pending) if pending else "",
            "secret": twofactor.secret_text(pending) if pending else "",
            "form": form,
            "codes": codes,
            "backup_left": twofactor.backup_codes_left(user) if enabled else 0,
            "next": signin.safe_next(request, default=""),
        },
    )
