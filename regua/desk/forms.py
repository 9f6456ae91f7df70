from typing import Any

from django import forms
from django.core import signing
from django.utils.translation import gettext_lazy as _

from regua.lib.uploads import attachment_problem
from regua.users.models import User

from .models import (
    Category,
    ReplyTemplate,
    TicketChannel,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from .services import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FilesField(forms.FileField):
    """Up to MAX_ATTACHMENTS files (Django's documented pattern for multiple uploads)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Attachments"))
        kwargs.setdefault(
            "help_text", _("Up to %(count)d files of 10 MB each.") % {"count": MAX_ATTACHMENTS}
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            files = [single(item, initial) for item in data if item]
        else:
            files = [single(data, initial)] if data else []
        # Checked by the size the upload declares, before anything reads it into memory.
        if len(files) > MAX_ATTACHMENTS:
            raise forms.ValidationError(
                _("Up to %(count)d attachments per message.") % {"count": MAX_ATTACHMENTS}
            )
        for file in files:
            if file.size > MAX_ATTACHMENT_BYTES:
                raise forms.ValidationError(
                    _("%(name)s is larger than %(size)d MB.")
                    % {"name": file.name, "size": MAX_ATTACHMENT_BYTES // (1024 * 1024)}
                )
            # By its content as well as its name: no programs or pages, no disguises.
            head = file.read(512)
            file.seek(0)
            if problem := attachment_problem(file.name, head):
                raise forms.ValidationError(problem)
        return files


def _team() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), label=_("Assignee"), required=False
    )


class TicketForm(forms.Form):
    """A ticket the agent logs: a phone call, a chat, a message from elsewhere."""

    email = forms.EmailField(
        label=_("Customer's e-mail"),
        required=False,
        help_text=_("Finds the customer, or creates them."),
    )
    name = forms.CharField(label=_("Customer's name"), max_length=200, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(
        label=_("What the customer said"), widget=forms.Textarea(attrs={"rows": 5})
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=TicketKind.choices)
    channel = forms.ChoiceField(
        label=_("Channel"), choices=TicketChannel.choices, initial=TicketChannel.PHONE
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=TicketPriority.choices, coerce=int, initial=2
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(), label=_("Category"), required=False
    )
    order_ref = forms.CharField(label=_("Order number"), max_length=100, required=False)
    assignee = _team()
    attachments = FilesField()


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), widget=forms.Textarea(attrs={"rows": 10}))
    internal = forms.BooleanField(
        label=_("Internal note (the customer does not see it)"), required=False
    )
    status = forms.ChoiceField(
        label=_("Then the ticket is"),
        choices=[
            (TicketStatus.OPEN, TicketStatus.OPEN.label),
            (TicketStatus.WAITING, TicketStatus.WAITING.label),
            (TicketStatus.RESOLVED, TicketStatus.RESOLVED.label),
        ],
        initial=TicketStatus.OPEN,
    )
    attachments = FilesField()
    # Set when the agent chose to send despite the warnings shown.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class UpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=TicketStatus.choices)
    assignee = _team()
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=TicketPriority.choices, coerce=int
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=TicketKind.choices)
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(), label=_("Category"), required=False
    )


class ReplyTemplateForm(forms.ModelForm):
    class Meta:
        model = ReplyTemplate
        fields = ["name", "kind", "is_apology", "body_pt", "body_en", "position", "active"]
        widgets = {
            "body_pt": forms.Textarea(attrs={"rows": 12}),
            "body_en": forms.Textarea(attrs={"rows": 12}),
        }


FORM_SALT = "regua.desk.contact-form"
# A person takes a few seconds to fill the form; a bot posts at once or replays a page
# for days. Outside this window the form is shown again.
FORM_MIN_SECONDS = 3
FORM_MAX_SECONDS = 24 * 3600


class ContactForm(forms.Form):
    """The public contact form. Spam is kept out by a hidden field people leave empty,
    a signed time stamp (too fast or too old is refused) and a limit per address."""

    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("Your e-mail"))
    kind = forms.ChoiceField(label=_("This is a"), choices=TicketKind.choices)
    order_ref = forms.CharField(label=_("Order number (if any)"), max_length=100, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}), max_length=10_000
    )
    attachments = FilesField()
    website = forms.CharField(required=False, label=_("Leave this empty"))  # the honeypot
    stamp = forms.CharField(widget=forms.HiddenInput)

    @staticmethod
    def new_stamp() -> str:
        return signing.TimestampSigner(salt=FORM_SALT).sign("form")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("website"):
            raise forms.ValidationError(_("The form could not be sent. Please try again."))
        signer = signing.TimestampSigner(salt=FORM_SALT)
        try:
            signer.unsign(data.get("stamp", ""), max_age=FORM_MAX_SECONDS)
        except signing.BadSignature as error:
            raise forms.ValidationError(_("The form expired. Please send it again.")) from error
        try:
            signer.unsign(data.get("stamp", ""), max_age=FORM_MIN_SECONDS)
        except signing.SignatureExpired:
            pass  # older than the minimum: a person
        else:
            raise forms.ValidationError(
                _("That was quick. Please check the form and send it again.")
            )
        return data
