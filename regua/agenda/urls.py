from django.urls import path

from . import views

app_name = "agenda"
urlpatterns = [
    path("agenda/", views.today, name="today"),
    path("agenda/week/", views.week, name="week"),
    path("agenda/month/", views.month, name="month"),
    path("agenda/day/", views.day, name="day"),
    path("agenda/team/", views.team, name="team"),
    path("agenda/tasks/new/", views.task_new, name="task_new"),
    path("agenda/tasks/<int:task_id>/", views.task_edit, name="task_edit"),
    path("agenda/tasks/<int:task_id>/complete/", views.task_complete_view, name="task_complete"),
    path("agenda/tasks/<int:task_id>/reschedule/", views.task_reschedule, name="task_reschedule"),
    path("agenda/tasks/bulk/", views.tasks_bulk, name="tasks_bulk"),
    path("agenda/handover/", views.handover, name="handover"),
    path(
        "agenda/handover/<int:handover_id>/return/",
        views.handover_return_view,
        name="handover_return",
    ),
    path("agenda/calendar/", views.calendar_feed, name="calendar"),
    path("agenda/feed/<str:token>.ics", views.feed, name="feed"),
]
