from django.urls import path

from . import public_views, views

app_name = "cadences"

urlpatterns = [
    path("reguas/", views.cadence_list, name="list"),
    path("reguas/new/", views.cadence_new, name="new"),
    path("reguas/import/", views.cadence_import_view, name="import"),
    path("reguas/defaults/", views.install_defaults, name="install_defaults"),
    path("reguas/<slug:key>/", views.cadence_detail, name="detail"),
    path("reguas/<slug:key>/settings/", views.cadence_settings, name="settings"),
    path("reguas/<slug:key>/status/", views.cadence_status, name="status"),
    path("reguas/<slug:key>/broadcast/", views.cadence_broadcast, name="broadcast"),
    path("reguas/<slug:key>/yaml/", views.cadence_yaml, name="yaml"),
    path("reguas/<slug:key>/preview/", views.cadence_preview_view, name="preview"),
    path("reguas/<slug:key>/steps/new/", views.step_edit, name="step_new"),
    path("reguas/<slug:key>/steps/<slug:step_key>/", views.step_edit, name="step"),
    path(
        "reguas/<slug:key>/steps/<slug:step_key>/remove/", views.step_archive, name="step_archive"
    ),
    path("reguas/<slug:key>/steps/<slug:step_key>/test/", views.step_test_send, name="step_test"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:pk>/", views.outbox_message, name="outbox_message"),
    # Public, token-protected: what the links in messages point to.
    path("t/o/<str:token>/", public_views.open_pixel, name="open"),
    path("t/c/<str:token>/", public_views.click, name="click"),
    path("u/<str:token>/", public_views.unsubscribe, name="unsubscribe"),
    path("s/<str:token>/", public_views.survey, name="survey"),
]
