from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from regua.customers.models import Channel, ConsentPurpose, ConsentStatus, LegalBasis
from regua.users.models import User

from .models import AuditAction


class ConsentForm(forms.Form):
    """A consent recorded by staff: what the person said, on which channel, for what,
    under which legal basis and which wording."""

    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    status = forms.ChoiceField(label=_("Status"), choices=ConsentStatus.choices)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    legal_basis = forms.ChoiceField(label=_("Legal basis"), choices=LegalBasis.choices)
    text_version = forms.CharField(
        label=_("Text version"),
        max_length=40,
        required=False,
        help_text=_("The version of the consent wording the person agreed to."),
    )
    source = forms.CharField(
        label=_("Source"),
        max_length=60,
        required=False,
        help_text=_("How it was given, e.g. a phone call or a signed form (no personal data)."),
    )


class EraseForm(forms.Form):
    """Erasure cannot be undone: the user types the phrase shown to confirm it."""

    confirmation = forms.CharField(label=_("Confirmation"), max_length=60)

    def __init__(self, *args: Any, phrase: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.phrase = phrase

    def clean_confirmation(self) -> str:
        typed = " ".join(self.cleaned_data["confirmation"].split())
        if typed.casefold() != self.phrase.casefold():
            raise forms.ValidationError(
                _("Type %(phrase)s exactly to confirm.") % {"phrase": self.phrase}
            )
        return typed


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"), choices=[("", _("All")), *AuditAction.choices], required=False
    )
    user = forms.ModelChoiceField(
        label=_("User"), queryset=User.objects.all(), required=False, empty_label=_("Everyone")
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
