"""Turning one incoming contact (a CSV row or an API item) into clean values.

Blank values mean "no change": a file with an empty phone cell never erases a phone.
Any column this module does not know becomes a custom attribute.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from regua.core.ingest import column_key, given_values, has_nul
from regua.lib.brazil import state_code, state_time_zone
from regua.lib.parsing import (
    normalize_email,
    normalize_phone,
    parse_bool,
    parse_date,
)
from regua.lib.text import fold, search_key

from ..models import (
    Channel,
    ConsentPurpose,
    Gender,
    LegalBasis,
    PowerRole,
    RelationshipType,
    Stage,
)

# Header spellings found in Brazilian exports → our field names.
ALIASES = {
    "id": "external_id",
    "id_externo": "external_id",
    "codigo_cliente": "external_id",
    "customer_id": "external_id",
    "e_mail": "email",
    "mail": "email",
    "nome": "name",
    "nome_completo": "name",
    "full_name": "name",
    "primeiro_nome": "first_name",
    "sobrenome": "last_name",
    "ultimo_nome": "last_name",
    "telefone": "phone",
    "celular": "phone",
    "fone": "phone",
    "mobile": "phone",
    "data_de_nascimento": "birth_date",
    "data_nascimento": "birth_date",
    "nascimento": "birth_date",
    "birthday": "birth_date",
    "aniversario": "birth_date",
    "sexo": "gender",
    "genero": "gender",
    "cidade": "city",
    "municipio": "city",
    "estado": "state",
    "uf": "state",
    "etiquetas": "tags",
    "tag": "tags",
    "responsavel": "owner",
    "dono": "owner",
    "estagio": "stage",
    "etapa": "stage",
    "lifecycle_stage": "stage",
    "origem": "source",
    "idioma": "language",
    "fuso_horario": "time_zone",
    "empresa": "company",
    "cargo": "job_title",
    "papel": "role",
    "finalidade": "consent_purpose",
    "base_legal": "consent_legal_basis",
    "versao_do_termo": "consent_text_version",
    "versao_termo": "consent_text_version",
}
# What a row's consents were given for, under which legal basis and wording (LGPD); they
# apply to every channel the row gives consent on.
CONSENT_TERMS = ("consent_purpose", "consent_legal_basis", "consent_text_version")
STANDARD = {
    "external_id",
    "email",
    "name",
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "gender",
    "city",
    "state",
    "time_zone",
    "language",
    "stage",
    "source",
    "relationship_type",
    "tags",
    "owner",
    "company",
    "role",
    "job_title",
    "attributes",
    "consent",
    *CONSENT_TERMS,
} | {f"{channel}_consent" for channel in Channel.values}
CHANNELS = tuple(Channel.values)
CONSENT_COLUMNS = [(channel, f"{channel}_consent") for channel in CHANNELS]

_GENDERS = {
    "f": Gender.FEMALE,
    "fem": Gender.FEMALE,
    "feminino": Gender.FEMALE,
    "female": Gender.FEMALE,
    "mulher": Gender.FEMALE,
    "woman": Gender.FEMALE,
    "m": Gender.MALE,
    "masc": Gender.MALE,
    "masculino": Gender.MALE,
    "male": Gender.MALE,
    "homem": Gender.MALE,
    "man": Gender.MALE,
    "o": Gender.OTHER,
    "outro": Gender.OTHER,
    "other": Gender.OTHER,
    "nao_binario": Gender.OTHER,
    "non_binary": Gender.OTHER,
    "nb": Gender.OTHER,
}
_STAGES = {
    **{stage.value: stage.value for stage in Stage},
    "prospecto": Stage.PROSPECT,
    "oportunidade": Stage.PROSPECT,
    "cliente": Stage.CUSTOMER,
    "inativo": Stage.INACTIVE,
    "perdido": Stage.CHURNED,
    "cancelado": Stage.CHURNED,
    "churn": Stage.CHURNED,
}
_ROLES = {
    **{role.value: role.value for role in PowerRole},
    "decisor": PowerRole.DECISION_MAKER,
    "tomador_de_decisao": PowerRole.DECISION_MAKER,
    "influenciador": PowerRole.INFLUENCER,
    "usuario": PowerRole.USER,
    "outro": PowerRole.OTHER,
}
_LANGUAGES = {"pt": "pt-br", "pt_br": "pt-br", "pt-br": "pt-br", "en": "en", "en_us": "en"}


@dataclass
class ContactInput:
    """The clean content of one incoming contact; only what was given is set."""

    values: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    consents: dict[str, bool] = field(default_factory=dict)
    # purpose, legal_basis, text_version: only those given (see CONSENT_TERMS).
    consent_terms: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    owner_email: str | None = None
    search_name: str | None = None
    company: str | None = None
    role: str | None = None
    job_title: str | None = None

    @property
    def external_id(self) -> str | None:
        return self.values.get("external_id")

    @property
    def email(self) -> str | None:
        return self.values.get("email")


def field_name(header: str) -> str:
    """The field a CSV header or API key stands for ('Data de Nascimento' → 'birth_date')."""
    key = column_key(header)
    return ALIASES.get(key, key)


def _text(limit: int) -> Callable[[Any], str]:
    def clean(value: Any) -> str:
        text = " ".join(str(value).split())
        if len(text) > limit:
            raise ValueError(_("longer than %(limit)d characters") % {"limit": limit})
        return text

    return clean


def _choice(table: Mapping[str, str], label: Promise) -> Callable[[Any], str]:
    def clean(value: Any) -> str:
        if (quick := table.get(str(value).strip().lower())) is not None:
            return quick
        key = column_key(fold(str(value)))
        if key not in table:
            message = _("%(value)s is not a valid %(label)s")
            raise ValueError(message % {"value": value, "label": label})
        return table[key]

    return clean


def _birth_date(value: Any) -> date:
    parsed = parse_date(value)
    if parsed.year < 1900 or parsed > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError(_("%(value)s is not a plausible birth date") % {"value": value})
    return parsed


def _state(value: Any) -> str:
    uf = state_code(str(value))
    if uf is None:
        raise ValueError(_("%(value)s is not a Brazilian state") % {"value": value})
    return uf


def _time_zone(value: Any) -> str:
    name = str(value).strip()
    if name not in _ZONES:
        raise ValueError(_("%(value)s is not a time zone") % {"value": value})
    ZoneInfo(name)
    return name


_ZONES = available_timezones()
_clean_role = _choice(_ROLES, gettext_lazy("role"))
_PURPOSES = {
    **{purpose.value: purpose.value for purpose in ConsentPurpose},
    "servico": ConsentPurpose.SERVICE,
    "pesquisa": ConsentPurpose.SURVEY,
}
_LEGAL_BASES = {
    **{basis.value: basis.value for basis in LegalBasis},
    "consentimento": LegalBasis.CONSENT,
    "contrato": LegalBasis.CONTRACT,
    "obrigacao_legal": LegalBasis.LEGAL_OBLIGATION,
    "interesse_legitimo": LegalBasis.LEGITIMATE_INTEREST,
    "protecao_do_credito": LegalBasis.CREDIT_PROTECTION,
}
CONSENT_TERM_CLEANERS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "consent_purpose": ("purpose", _choice(_PURPOSES, gettext_lazy("consent purpose"))),
    "consent_legal_basis": ("legal_basis", _choice(_LEGAL_BASES, gettext_lazy("legal basis"))),
    "consent_text_version": ("text_version", _text(40)),
}
FIELD_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "external_id": _text(100),
    "email": normalize_email,
    "first_name": _text(100),
    "last_name": _text(150),
    "phone": normalize_phone,
    "birth_date": _birth_date,
    "gender": _choice(_GENDERS, gettext_lazy("gender")),
    "city": _text(100),
    "state": _state,
    "time_zone": _time_zone,
    "language": _choice(_LANGUAGES, gettext_lazy("language")),
    "stage": _choice(_STAGES, gettext_lazy("lifecycle stage")),
    "source": _text(60),
    "relationship_type": _choice(
        {t.value: t.value for t in RelationshipType}, gettext_lazy("relationship type")
    ),
}


def clean_contact(data: Mapping[str, Any]) -> tuple[ContactInput, list[tuple[str, str]]]:
    """Clean one contact keyed by field names (see field_name); returns it and its errors."""
    raw = given_values(data)
    item = ContactInput()
    errors: list[tuple[str, str]] = []
    if "name" in raw and "first_name" not in raw:
        first, _sep, last = " ".join(str(raw["name"]).split()).partition(" ")
        raw["first_name"] = first
        if last and "last_name" not in raw:
            raw["last_name"] = last
    for name, value in raw.items():
        cleaner = FIELD_CLEANERS.get(name)
        if cleaner is None:
            continue
        try:
            item.values[name] = cleaner(value)
        except ValueError as exc:
            errors.append((name, str(exc)))
    if "first_name" in item.values and "last_name" in item.values:
        # Precomputed here, where cleaning runs (perhaps in a child process), for _apply.
        item.search_name = search_key(f"{item.values['first_name']} {item.values['last_name']}")
    if "state" in item.values and "time_zone" not in item.values:
        item.values["time_zone"] = state_time_zone(item.values["state"])
    _clean_relations(raw, item, errors)
    _clean_extras(raw, item, errors)
    if not item.external_id and not item.email and not errors:
        errors.append(("email", _("a contact needs an external_id or an e-mail")))
    return item, errors


def _clean_relations(
    raw: dict[str, Any], item: ContactInput, errors: list[tuple[str, str]]
) -> None:
    if "tags" in raw:
        tags = raw["tags"]
        names = tags if isinstance(tags, list) else str(tags).replace(";", ",").split(",")
        cleaned = (" ".join(str(name).split())[:60] for name in names)
        item.tags = list(dict.fromkeys(name for name in cleaned if name))
    if "owner" in raw:
        try:
            item.owner_email = normalize_email(raw["owner"])
        except ValueError as exc:
            errors.append(("owner", str(exc)))
    if "company" in raw:
        item.company = " ".join(str(raw["company"]).split())[:200]
    if "role" in raw:
        try:
            item.role = _clean_role(raw["role"])
        except ValueError as exc:
            errors.append(("role", str(exc)))
    if "job_title" in raw:
        item.job_title = " ".join(str(raw["job_title"]).split())[:100]
    consent = raw.get("consent")
    given = dict(consent) if isinstance(consent, dict) else {}
    for channel, column in CONSENT_COLUMNS:
        if column in raw:
            given[channel] = raw[column]
    for channel, value in given.items():
        if channel not in CHANNELS:
            errors.append(("consent", _("%(value)s is not a channel") % {"value": channel}))
            continue
        try:
            item.consents[channel] = parse_bool(value)
        except ValueError as exc:
            errors.append((f"{channel}_consent", str(exc)))
    for column, (term, cleaner) in CONSENT_TERM_CLEANERS.items():
        if column in raw:
            try:
                item.consent_terms[term] = cleaner(raw[column])
            except ValueError as exc:
                errors.append((column, str(exc)))


def _clean_extras(raw: dict[str, Any], item: ContactInput, errors: list[tuple[str, str]]) -> None:
    attributes = raw.get("attributes")
    if isinstance(attributes, dict) and has_nul(attributes):
        errors.append(("attributes", _("a value holds a NUL character")))
    elif isinstance(attributes, dict):
        item.attributes.update({column_key(str(k)) or str(k): v for k, v in attributes.items()})
    elif attributes is not None:
        errors.append(("attributes", _("expected an object of custom attributes")))
    for key, value in raw.items():
        if key and key not in STANDARD:
            item.attributes[key] = value.strip() if isinstance(value, str) else value
