from django.urls import path

from . import views

app_name = "imports"
urlpatterns = [
    path("", views.import_list, name="list"),
    path("<int:job_id>/", views.import_detail, name="detail"),
    path("<int:job_id>/retry/", views.import_retry, name="retry"),
    path("<int:job_id>/errors.csv", views.import_errors_csv, name="errors_csv"),
]
