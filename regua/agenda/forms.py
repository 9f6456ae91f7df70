from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regua.users.models import User

from .models import HandOverScope, NoFollowUpReason, Task, TaskKind


def _active_users() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), label=_("Owner"), required=False
    )


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)


class TaskForm(forms.ModelForm):
    owner = _active_users()

    class Meta:
        model = Task
        fields = [
            "kind",
            "title",
            "owner",
            "due_on",
            "due_time",
            "priority",
            "estimated_minutes",
            "notes",
        ]
        widgets = {
            "due_on": DateInput(),
            "due_time": TimeInput(),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.fields["owner"].required = True  # a planned task is always someone's
        self.fields["title"].help_text = _("Leave empty for “Call: contact's name”.")
        self.fields["estimated_minutes"].help_text = _(
            "Empty: the usual for its kind (call 15, meeting 60, e-mail 10, visit 90)."
        )


class CompleteForm(forms.Form):
    """The outcome of a task and what comes next: a date, or why nothing does."""

    outcome = forms.CharField(
        label=_("Outcome"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    next_on = forms.DateField(label=_("Next contact on"), required=False, widget=DateInput())
    next_time = forms.TimeField(label=_("at"), required=False, widget=TimeInput())
    next_kind = forms.ChoiceField(
        label=_("by"), required=False, choices=[("", _("the same kind")), *TaskKind.choices]
    )
    no_follow_up_reason = forms.ChoiceField(
        label=_("Or: no further contact, because"),
        required=False,
        choices=[("", "—"), *NoFollowUpReason.choices],
    )


class RescheduleForm(forms.Form):
    due_on = forms.DateField(label=_("New date"), widget=DateInput())


class BulkForm(forms.Form):
    """A selection of tasks moved at once to a day, or to a colleague."""

    action = forms.ChoiceField(
        choices=[("reschedule", _("Move to a day")), ("reassign", _("Give to a colleague"))]
    )
    task = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    due_on = forms.DateField(label=_("Day"), required=False, widget=DateInput())
    to_user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), label=_("Colleague"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id may be posted; the view keeps only the tasks the user can see.
        posted = self.data.getlist("task") if hasattr(self.data, "getlist") else []
        cast(forms.ChoiceField, self.fields["task"]).choices = [(v, v) for v in posted]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "reschedule" and not data.get("due_on"):
            self.add_error("due_on", _("Pick the day to move the tasks to."))
        if data.get("action") == "reassign" and not data.get("to_user"):
            self.add_error("to_user", _("Pick the colleague who takes the tasks."))
        return data


class HandOverForm(forms.Form):
    from_user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), label=_("From")
    )
    to_user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), label=_("To (stand-in)")
    )
    scope = forms.ChoiceField(
        label=_("What"), choices=HandOverScope.choices, initial=HandOverScope.TASKS
    )
    starts_on = forms.DateField(label=_("Absence from"), required=False, widget=DateInput())
    ends_on = forms.DateField(label=_("until"), required=False, widget=DateInput())
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args: Any, user: User, manages: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not manages:
            # An agent hands over only their own tasks (for an absence, or to a colleague).
            from_field = cast(forms.ModelChoiceField, self.fields["from_user"])
            from_field.queryset = User.objects.filter(pk=user.pk)
            self.fields["from_user"].initial = user.pk
            scope_field = cast(forms.ChoiceField, self.fields["scope"])
            scope_field.choices = [(HandOverScope.TASKS, HandOverScope.TASKS.label)]
        self.fields["starts_on"].help_text = _("Leave both dates empty to hand over for good, now.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("starts_on") and not data.get("ends_on"):
            self.add_error("ends_on", _("An absence needs its last day."))
        if data.get("ends_on") and data["ends_on"] < timezone.localdate():
            self.add_error("ends_on", _("This absence is already over."))
        return data
