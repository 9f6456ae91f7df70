from django.urls import path

from . import views

app_name = "desk_public"
urlpatterns = [
    path("support/", views.contact_form, name="contact"),
    path("support/rating/<str:token>/<int:score>/", views.rating, name="rating"),
]
