from django.urls import path

from . import public_views, views

app_name = "loyalty"
urlpatterns = [
    path("loyalty/", views.overview, name="overview"),
    path("loyalty/tiers/", views.tier_list, name="tiers"),
    path("loyalty/tiers/new/", views.tier_edit, name="tier_new"),
    path("loyalty/tiers/<int:pk>/", views.tier_edit, name="tier_edit"),
    path("loyalty/tiers/<int:pk>/delete/", views.tier_delete, name="tier_delete"),
    path("loyalty/rewards/", views.reward_list, name="rewards"),
    path("loyalty/rewards/new/", views.reward_edit, name="reward_new"),
    path("loyalty/rewards/<int:pk>/", views.reward_edit, name="reward_edit"),
    path("loyalty/rewards/<int:pk>/delete/", views.reward_delete, name="reward_delete"),
    path("loyalty/contacts/<int:pk>/", views.contact_ledger, name="contact"),
    path("loyalty/contacts/<int:pk>/adjust/", views.contact_adjust, name="adjust"),
    path("loyalty/contacts/<int:pk>/redeem/", views.contact_redeem, name="redeem"),
    path("l/<str:token>/", public_views.public_page, name="public_page"),
    path("r/<str:code>", public_views.referral_landing, name="referral_landing"),
]
