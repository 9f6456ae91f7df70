from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .csvfile import SNIFF_BYTES, sniff_problem
from .models import ImportKind


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("Separated by ; or , — UTF-8 or Latin-1 — with a header line."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )
    create_contacts = forms.BooleanField(
        label=_("Create contacts for unknown customers (orders and events)"),
        required=False,
        initial=True,
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s.") % {"limit": filesizeformat(limit)}
            )
        # By its content, not its name or the type the browser declared.
        head = upload.read(SNIFF_BYTES)
        upload.seek(0)
        problem = sniff_problem(head)
        if problem:
            raise forms.ValidationError(problem[:1].upper() + problem[1:] + ".")
        return upload
