"""The password reset e-mail, sent by the worker (signin.py says why not by the page)."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks import task

from .models import User


@task()
def password_reset_mail(user_id: int, language: str) -> None:
    """The reset link for one account, in the language of the page it was asked on.

    The link is made here, not when the job is queued, so no reset token waits in the
    task table; an account deactivated meanwhile gets nothing."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    token = default_token_generator.make_token(user)
    path = reverse(
        "password_reset_confirm", args=[urlsafe_base64_encode(force_bytes(user.pk)), token]
    )
    hours = max(settings.PASSWORD_RESET_TIMEOUT // 3600, 1)
    with translation.override(language):
        context = {
            "user": user,
            "url": settings.REGUA_SITE_URL + path,
            "brand": settings.REGUA_BRAND_NAME,
            "hours": hours,
        }
        subject = render_to_string("registration/password_reset_subject.txt", context)
        body = render_to_string("registration/password_reset_email.txt", context)
    send_mail(" ".join(subject.split()), body, None, [user.email])
