import json
from typing import Any

from django import forms
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import EXPLANATIONS, RelationshipModel, Segment
from .rules import check


class SegmentForm(forms.ModelForm):
    rule = forms.CharField(label=_("Rule"), widget=forms.Textarea(attrs={"hidden": ""}))

    class Meta:
        model = Segment
        fields = ["name", "description", "rule", "relationship_model"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "relationship_model": forms.RadioSelect,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["rule"] = json.dumps(self.instance.rule, ensure_ascii=False)
        # A post without it (a client older than the field) keeps what was there.
        self.fields["relationship_model"].required = False

    def clean_relationship_model(self) -> str:
        return self.cleaned_data.get("relationship_model") or self.instance.relationship_model

    def relationship_choices(self) -> list[tuple[Any, Promise]]:
        """Each radio button of the relationship model with its one-line explanation."""
        return [
            (radio, EXPLANATIONS[RelationshipModel(radio.data["value"])])
            for radio in self["relationship_model"]
        ]

    def clean_rule(self) -> Any:
        return rule_from_text(self.cleaned_data["rule"])


def rule_from_text(text: str) -> Any:
    """The rule posted by the builder, or a ValidationError saying what is wrong."""
    try:
        rule = json.loads(text)
    except (ValueError, RecursionError):
        # JSONDecodeError, and what json raises beyond it: an integer of more than 4,300
        # digits (ValueError) or arrays nested thousands deep (RecursionError).
        raise forms.ValidationError(_("The rule is not valid JSON.")) from None
    problems = check(rule)
    if problems:
        raise forms.ValidationError(problems)
    return rule
