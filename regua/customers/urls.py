from django.urls import path

from . import views

app_name = "customers"
urlpatterns = [
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact_detail"),
    path(
        "contacts/<int:contact_id>/timeline/", views.contact_timeline_page, name="contact_timeline"
    ),
    path(
        "contacts/<int:contact_id>/interactions/",
        views.interaction_create,
        name="interaction_create",
    ),
    path("companies/", views.company_list, name="company_list"),
    path("companies/<int:company_id>/", views.company_detail, name="company_detail"),
]
