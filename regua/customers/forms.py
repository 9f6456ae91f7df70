from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import InteractionKind, Stage


class InteractionForm(forms.Form):
    """Add a note or log a call, meeting, visit… on a contact's timeline."""

    kind = forms.ChoiceField(label=_("Kind"), choices=InteractionKind.choices, initial="note")
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    body = forms.CharField(
        label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    outcome = forms.CharField(label=_("Outcome"), max_length=200, required=False)
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"), min_value=0, max_value=24 * 60, required=False
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave empty for now."),
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if not data.get("subject") and not data.get("body") and not data.get("outcome"):
            raise forms.ValidationError(_("Write a subject, notes or an outcome."))
        at = data.get("occurred_at")
        if at and at > timezone.now() + timedelta(minutes=5):
            self.add_error("occurred_at", _("This is in the future; plan follow-ups as tasks."))
        return data


class ContactFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    stage = forms.ChoiceField(
        label=_("Stage"), required=False, choices=[("", _("All stages")), *Stage.choices]
    )
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    tag = forms.CharField(label=_("Tag"), required=False)
    city = forms.CharField(label=_("City"), required=False)
    sort = forms.ChoiceField(
        label=_("Order"),
        required=False,
        choices=[("recent", _("Newest first")), ("name", _("Name A–Z"))],
    )

    def __init__(self, *args: object, owners: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["owner"].choices = [("", _("Anyone")), *owners]  # type: ignore[attr-defined]
