from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("analytics/", views.dashboard, name="dashboard"),
    path("analytics/nps/", views.nps, name="nps"),
    path("analytics/recompute/", views.dashboard_recompute, name="recompute"),
    path("analytics/export/<slug:table>.csv", views.dashboard_export, name="export"),
]
