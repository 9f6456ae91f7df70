from django.urls import path

from . import views

app_name = "segments"
urlpatterns = [
    path("segments/", views.segment_list, name="list"),
    path("segments/new/", views.segment_edit, name="new"),
    path("segments/count/", views.segment_count, name="count"),
    path("segments/<int:pk>/", views.segment_edit, name="edit"),
    path("segments/<int:pk>/count/", views.segment_saved_count, name="saved_count"),
    path("segments/<int:pk>/members/", views.segment_members, name="members"),
    path("segments/<int:pk>/export.csv", views.segment_export, name="export"),
    path("segments/<int:pk>/delete/", views.segment_delete, name="delete"),
]
