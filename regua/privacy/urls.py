from django.urls import path

from . import views

app_name = "privacy"
urlpatterns = [
    path("privacy/contacts/<int:pk>/", views.subject, name="subject"),
    path("privacy/contacts/<int:pk>/consent/", views.consent_change, name="consent"),
    path("privacy/contacts/<int:pk>/export.json", views.export_json_view, name="export_json"),
    path("privacy/contacts/<int:pk>/export.csv", views.export_csv_view, name="export_csv"),
    path("privacy/contacts/<int:pk>/erase/", views.erase, name="erase"),
    path("privacy/audit/", views.audit_log, name="audit"),
]
