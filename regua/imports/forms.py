from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

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
        head = upload.read(4)
        upload.seek(0)
        if head.startswith(b"PK\x03\x04"):
            raise forms.ValidationError(
                _("This is a spreadsheet workbook (.xlsx): save it as CSV and upload that.")
            )
        return upload
