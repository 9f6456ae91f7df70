from django.urls import path

from . import views

app_name = "desk"
urlpatterns = [
    path("desk/", views.ticket_queue, name="queue"),
    path("desk/new/", views.ticket_new, name="new"),
    path("desk/<int:pk>/", views.ticket_detail, name="ticket"),
    path("desk/<int:pk>/reply/", views.ticket_reply_view, name="reply"),
    path("desk/<int:pk>/update/", views.ticket_update_view, name="update"),
    path("desk/attachments/<int:pk>/", views.attachment, name="attachment"),
    path("desk/templates/", views.template_list, name="templates"),
    path("desk/templates/new/", views.template_edit, name="template_new"),
    path("desk/templates/<int:pk>/", views.template_edit, name="template_edit"),
    path("desk/reports/", views.report, name="report"),
]
