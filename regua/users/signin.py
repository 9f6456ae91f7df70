"""Signing in: the login page, the two-factor code step, and the password reset.

Django's own views, with what Régua adds (docs/security.md):
- rate limits on every form anyone can post (per client address and per e-mail address
  typed; regua/core/ratelimits.py), on top of django-axes' lockout (lockout.py);
- after the password, the code of the user's authenticator app when they have one
  (twofactor.py keeps the session to the code page until it is given);
- the reset e-mail sent by a background job, to each matching active account, with a
  link to REGUA_SITE_URL (never to the Host the request named). The page answers the
  same whether or not the address has an account, and in the same time: the request
  only queues the job, for account ids found.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import login as otp_login

from regua.core import ratelimits

from .models import User
from .tasks import password_reset_mail
from .twofactor import code_device, has_two_factor

CODE_ATTEMPTS = 5  # wrong codes in one session before it must start again with the password
CODE_FAILURES = "regua_2fa_failures"
LOGIN_CODE = ratelimits.Limit(
    "login-code", "REGUA_RATELIMIT_LOGIN_USER", lambda request: str(request.user.pk)
)
PASSWORD_SET_IP = ratelimits.Limit("password-set-ip", "REGUA_RATELIMIT_PASSWORD_RESET")


class LoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = ratelimits.exceeded(request, ratelimits.LOGIN_IP, ratelimits.LOGIN_USER)
        if wait:
            response = self.render_to_response(
                self.get_context_data(
                    form=self.get_form_class()(
                        request, initial={"username": request.POST.get("username", "")}
                    ),
                    locked=ratelimits.wait_text(wait),
                ),
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        if has_two_factor(form.get_user()):
            query = urlencode({"next": self.get_success_url()})
            return HttpResponseRedirect(f"{reverse('login_code')}?{query}")
        return response


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin site's sign-in goes through ours, then back to the admin."""
    target = safe_next(request, default=reverse("admin:index"))
    return redirect(f"{reverse('login')}?{urlencode({'next': target})}")


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


@login_required
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step: the six digits of the authenticator app, or a backup code."""
    user: User = request.user  # type: ignore[assignment]
    target = safe_next(request)
    if user.is_verified() or not has_two_factor(user):  # type: ignore[attr-defined]
        return redirect(target)
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        limited = ratelimits.refused(request, ratelimits.LOGIN_IP, LOGIN_CODE)
        if limited:
            return limited
        if form.is_valid():
            device = code_device(user, form.cleaned_data["code"])
            if device is not None:
                request.session.pop(CODE_FAILURES, None)
                otp_login(request, device)
                return redirect(target)
            failures = request.session.get(CODE_FAILURES, 0) + 1
            if failures >= CODE_ATTEMPTS:
                logout(request)
                messages.error(request, _("Too many wrong codes. Sign in again."))
                return redirect("login")
            request.session[CODE_FAILURES] = failures
            form.add_error("code", _("This code is not valid. Check the time on your phone."))
    return render(request, "registration/login_code.html", {"form": form, "next": target})


def safe_next(request: HttpRequest, default: str | None = None) -> str:
    """The `next` address if it stays on this site, else `default` (the home page)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL) if default is None else default


class ResetForm(PasswordResetForm):
    email = forms.EmailField(
        label=gettext_lazy("E-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def save(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Queue the e-mail for each active account with this address, by id only."""
        language = translation.get_language() or settings.LANGUAGE_CODE
        for user in self.get_users(self.cleaned_data["email"]):
            password_reset_mail.enqueue(user.pk, language)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limited = ratelimits.refused(request, ratelimits.RESET_IP, ratelimits.RESET_ADDRESS)
        return limited or super().post(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limited = ratelimits.refused(request, PASSWORD_SET_IP)
        return limited or super().post(request, *args, **kwargs)
