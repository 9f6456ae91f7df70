from django.contrib.auth import views as auth_views
from django.urls import path

from . import signin, views

app_name = "users"
urlpatterns = [
    path("settings/api-keys/", views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("settings/two-factor/", views.two_factor, name="two_factor"),
]
# Signing in, out and the password reset keep Django's names ("login", "logout",
# "password_reset", ...), outside the namespace: Django's views and the admin use them.
auth_urlpatterns = [
    path("accounts/login/", signin.LoginView.as_view(), name="login"),
    path("accounts/login/code/", signin.login_code, name="login_code"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Before the admin site's own: one sign-in page for everything (its rate limits,
    # lockout message and two-factor step).
    path("admin/login/", signin.admin_login, name="admin_login"),
    path("accounts/password/reset/", signin.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        signin.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
