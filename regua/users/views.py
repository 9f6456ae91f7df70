from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from .models import ApiKey


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
