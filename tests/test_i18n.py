"""Every user-facing string is translated to Brazilian Portuguese, and compiled."""

from pathlib import Path

import polib

import regua

PO = Path(regua.__file__).parent / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"


def test_every_message_has_a_portuguese_translation() -> None:
    catalogue = polib.pofile(str(PO))
    assert len(catalogue) > 300
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []


def test_the_compiled_catalogue_matches_the_source() -> None:
    compiled = {e.msgid: e.msgstr for e in polib.mofile(str(PO.with_suffix(".mo")))}
    source = {e.msgid: e.msgstr for e in polib.pofile(str(PO)) if not e.obsolete}
    assert compiled == {**source, **{k: v for k, v in compiled.items() if k == ""}}
