"""Loyalty pages: the programme overview, tiers, rewards and a contact's ledger.

Everyone signed in reads them (agents: the contacts of their portfolio, as everywhere);
managers and admins change tiers and rewards and adjust points. Redeeming a reward for a
customer is a service task: whoever can see the contact may do it.
"""

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from regua.customers.models import Contact
from regua.customers.selectors import contacts_visible_to
from regua.users.models import User

from . import services
from .forms import AdjustForm, RedeemForm, RewardForm, TierForm
from .models import PointEntry, Reward, Tier
from .selectors import loyalty_summary, programme_overview
from .services import LoyaltyError, points_adjust, reward_redeem

ENTRIES_PER_PAGE = 50


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _require_manager(request: HttpRequest) -> None:
    if not _user(request).manages:
        raise PermissionDenied(_("Only managers and administrators can change the programme."))


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "loyalty/overview.html",
        {"overview": programme_overview(user=_user(request)), "manages": _user(request).manages},
    )


@login_required
def tier_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "loyalty/tiers.html",
        {"tiers": Tier.objects.all(), "manages": _user(request).manages},
    )


@login_required
def tier_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _require_manager(request)
    tier = get_object_or_404(Tier, pk=pk) if pk else None
    form = TierForm(request.POST or None, instance=tier)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Tier saved. Members move at the next refresh."))
        return redirect("loyalty:tiers")
    return render(request, "loyalty/tier_edit.html", {"form": form, "tier": tier})


@login_required
@require_POST
def tier_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    moved = services.tier_delete(tier=get_object_or_404(Tier, pk=pk))
    messages.success(
        request,
        ngettext(
            "Tier deleted; %(n)d member moved to the tier their spend reaches.",
            "Tier deleted; %(n)d members moved to the tier their spend reaches.",
            moved,
        )
        % {"n": moved},
    )
    return redirect("loyalty:tiers")


@login_required
def reward_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "loyalty/rewards.html",
        {"rewards": Reward.objects.all(), "manages": _user(request).manages},
    )


@login_required
def reward_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _require_manager(request)
    reward = get_object_or_404(Reward, pk=pk) if pk else None
    form = RewardForm(request.POST or None, instance=reward)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Reward saved."))
        return redirect("loyalty:rewards")
    return render(request, "loyalty/reward_edit.html", {"form": form, "reward": reward})


@login_required
@require_POST
def reward_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    reward = get_object_or_404(Reward, pk=pk)
    try:
        reward.delete()
    except ProtectedError:  # pragma: no cover - redemptions keep the name, not the row
        reward.active = False
        reward.save(update_fields=["active", "updated_at"])
    messages.success(request, _("Reward removed from the catalogue."))
    return redirect("loyalty:rewards")


def _visible_contact(request: HttpRequest, pk: int) -> Contact:
    return get_object_or_404(contacts_visible_to(_user(request)), pk=pk)


@login_required
def contact_ledger(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _visible_contact(request, pk)
    entries = (
        PointEntry.objects.filter(contact=contact)
        .select_related("order", "created_by", "referral__referred")
        .order_by("-occurred_at", "-id")
    )
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "loyalty/contact.html",
        {
            "contact": contact,
            "summary": loyalty_summary(contact),
            "page": page,
            "manages": _user(request).manages,
            "adjust_form": AdjustForm(),
            "redeem_form": RedeemForm(),
        },
    )


@login_required
@require_POST
def contact_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    contact = _visible_contact(request, pk)
    form = AdjustForm(request.POST)
    if form.is_valid():
        try:
            entry = points_adjust(
                contact=contact,
                points=form.cleaned_data["points"],
                reason=form.cleaned_data["reason"],
                by=_user(request),
            )
            messages.success(
                request, _("%(points)s points booked.") % {"points": f"{entry.points:+d}"}
            )
        except LoyaltyError as error:
            messages.error(request, str(error))
    else:
        messages.error(request, _("Enter the points and the reason."))
    return redirect("loyalty:contact", contact.pk)


@login_required
@require_POST
def contact_redeem(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _visible_contact(request, pk)
    form = RedeemForm(request.POST)
    if form.is_valid():
        reward = form.cleaned_data["reward"]
        try:
            reward_redeem(contact=contact, reward=reward, by=_user(request))
            messages.success(
                request,
                _("%(reward)s redeemed for %(points)s points.")
                % {"reward": reward.name, "points": reward.points_cost},
            )
        except LoyaltyError as error:
            messages.error(request, str(error))
    else:
        messages.error(request, _("Choose a reward on offer."))
    return redirect("loyalty:contact", contact.pk)
