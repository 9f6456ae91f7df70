from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("", views.matrix, name="matrix"),
    path("companies/", views.company_list, name="companies"),
    path("companies/<int:company_id>/classification/", views.classify, name="classify"),
    path("companies/<int:company_id>/roles/", views.roles, name="roles"),
    path("roles/<int:role_id>/", views.role_edit, name="role_edit"),
    path("roles/<int:role_id>/delete/", views.role_delete, name="role_delete"),
    path("companies/<int:company_id>/plan/", views.plan, name="plan"),
    path("companies/<int:company_id>/plan/review/", views.plan_review, name="plan_review"),
    path(
        "companies/<int:company_id>/plan/initiatives/new/",
        views.initiative_new,
        name="initiative_new",
    ),
    path("initiatives/<int:initiative_id>/", views.initiative_edit, name="initiative_edit"),
    path(
        "initiatives/<int:initiative_id>/status/",
        views.initiative_status,
        name="initiative_status",
    ),
    path(
        "initiatives/<int:initiative_id>/delete/",
        views.initiative_delete,
        name="initiative_delete",
    ),
    path("plans/", views.plan_list, name="plans"),
]
