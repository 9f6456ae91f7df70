from django.contrib import admin
from django.urls import include, path

from regua.api import api
from regua.users.urls import auth_urlpatterns

urlpatterns = [
    path("", include("regua.core.urls")),
    path("", include("regua.ops.urls")),
    *auth_urlpatterns,
    path("", include("regua.users.urls")),
    path("", include("regua.customers.urls")),
    path("imports/", include("regua.imports.urls")),
    path("", include("regua.cadences.urls")),
    path("", include("regua.segments.urls")),
    path("", include("regua.analytics.urls")),
    path("accounts/", include("regua.accounts.urls")),
    path("", include("regua.agenda.urls")),
    path("", include("regua.loyalty.urls")),
    path("", include("regua.desk.urls")),
    path("", include("regua.desk.public_urls")),
    path("", include("regua.faq.urls")),
    path("", include("regua.privacy.urls")),
    path("anymail/", include("anymail.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
