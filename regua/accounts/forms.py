from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regua.customers.models import Level, PowerRole
from regua.users.models import User

from .classification import AbcClass
from .models import Initiative, InitiativeStatus


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def _users() -> Any:
    return User.objects.filter(is_active=True)


def _level_field(label: Any) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label, required=False, choices=[("", _("Not set")), *Level.choices]
    )


class ClassificationForm(forms.Form):
    profitability = _level_field(_("Profitability"))
    purchase_potential = _level_field(_("Purchase potential"))
    relationship_degree = _level_field(_("Relationship degree"))
    owner = forms.ModelChoiceField(
        label=_("Owner"), queryset=User.objects.none(), required=False, empty_label=_("Nobody")
    )

    def __init__(self, *args: Any, owner_editable: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if owner_editable:
            self.fields["owner"].queryset = _users()  # type: ignore[attr-defined]
        else:
            del self.fields["owner"]


class MatrixFilterForm(forms.Form):
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    relationship = forms.ChoiceField(
        label=_("Relationship degree"),
        required=False,
        choices=[("", _("Any degree")), *Level.choices],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owners = [(u.pk, str(u)) for u in _users()]
        self.fields["owner"].choices = [("", _("Anyone")), *owners]  # type: ignore[attr-defined]


ABC_PARAM = {"A": "A", "B": "B", "C": "C", "none": AbcClass.UNCLASSIFIED.value}


class CompanyFilterForm(MatrixFilterForm):
    q = forms.CharField(label=_("Search"), required=False)
    profitability = forms.ChoiceField(
        label=_("Profitability"), required=False, choices=[("", _("Any")), *Level.choices]
    )
    potential = forms.ChoiceField(
        label=_("Purchase potential"), required=False, choices=[("", _("Any")), *Level.choices]
    )
    abc = forms.ChoiceField(
        label=_("Class"),
        required=False,
        choices=[
            ("", _("Any class")),
            ("A", _("A")),
            ("B", _("B")),
            ("C", _("C")),
            ("none", _("Unclassified")),
        ],
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=PowerRole.choices)
    job_title = forms.CharField(label=_("Job title"), max_length=100, required=False)


class PlanForm(forms.Form):
    objective = forms.CharField(
        label=_("Objective"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the team wants from this account, and why, in a few lines."),
    )
    owner = forms.ModelChoiceField(
        label=_("Owner"), queryset=User.objects.none(), required=False, empty_label=_("Nobody")
    )
    review_on = forms.DateField(
        label=_("Next review"),
        required=False,
        widget=DateInput(),
        help_text=_("Becomes a task in the owner's agenda."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _users()  # type: ignore[attr-defined]


class ReviewDoneForm(forms.Form):
    next_review_on = forms.DateField(
        label=_("Next review"),
        widget=DateInput(),
        help_text=_("The plan is reviewed again on this day: a task for its owner."),
    )

    def clean_next_review_on(self) -> date:
        day: date = self.cleaned_data["next_review_on"]
        if day <= timezone.localdate():
            raise forms.ValidationError(_("Choose a day after today."))
        return day


class InitiativeForm(forms.ModelForm):
    class Meta:
        model = Initiative
        fields = ["title", "description", "owner", "starts_on", "due_on", "status"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "starts_on": DateInput(),
            "due_on": DateInput(),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _users()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, due = data.get("starts_on"), data.get("due_on")
        if starts and due and starts > due:
            self.add_error("starts_on", _("An initiative starts on or before its due date."))
        return data


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=InitiativeStatus.choices)
