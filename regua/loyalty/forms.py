from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Reward, Tier


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ["name", "slug", "min_spend_12m", "benefits"]
        widgets = {"benefits": forms.Textarea(attrs={"rows": 4})}

    def clean_slug(self) -> Any:
        value = self.cleaned_data["slug"]
        if value == "none":  # segment rules use it for "no tier"
            raise forms.ValidationError(_("This code is reserved; choose another."))
        return value

    def clean_min_spend_12m(self) -> Any:
        value = self.cleaned_data["min_spend_12m"]
        if value is not None and value < 0:
            raise forms.ValidationError(_("Enter an amount of zero or more."))
        return value


class RewardForm(forms.ModelForm):
    class Meta:
        model = Reward
        fields = ["name", "description", "points_cost", "stock", "active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def clean_points_cost(self) -> Any:
        value = self.cleaned_data["points_cost"]
        if not value:
            raise forms.ValidationError(_("A reward costs at least one point."))
        return value


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"),
        help_text=_("Positive to add, negative to take away."),
        min_value=-10_000_000,
        max_value=10_000_000,
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


class RedeemForm(forms.Form):
    reward = forms.ModelChoiceField(
        label=_("Reward"), queryset=Reward.objects.filter(active=True), empty_label=None
    )
