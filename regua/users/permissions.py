"""Who may open a back-office page: the decorators the views share (docs/security.md).

The rule every view follows: a visitor who is not signed in is sent to the login page;
a signed-in user whose role may not do something gets 403; an object outside what the
user may see (another agent's portfolio, someone else's key) answers 404, as if it did
not exist, so that ids cannot be probed.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _

View = Callable[..., HttpResponseBase]


def manager_required(view: View) -> View:
    """Managers and administrators only: they change what the whole team shares (réguas,
    segments, reply templates, the loyalty programme)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.manages:  # type: ignore[union-attr]
            raise PermissionDenied(_("Only managers and administrators can do this."))
        return view(request, *args, **kwargs)

    return login_required(wrapped)
