"""Upserting companies (B2B accounts) in batches.

Matched by external id, else CNPJ, else exact name (accents and case aside), so that
re-importing a file without ids still changes nothing. Company files are small: this path
uses the ORM's bulk operations rather than the raw writers of the contact path.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.core.ingest import BatchResult, CleanBatch, Status, column_key, given_values
from regua.lib.brazil import cnpj_is_valid, state_code
from regua.lib.parsing import normalize_email, normalize_phone
from regua.lib.text import fold, search_key
from regua.users.models import User

from ..models import Company, Level

ALIASES = {
    "id": "external_id",
    "id_externo": "external_id",
    "nome": "name",
    "razao_social": "name",
    "empresa": "name",
    "nome_fantasia": "name",
    "site": "domain",
    "website": "domain",
    "dominio": "domain",
    "setor": "industry",
    "segmento": "industry",
    "funcionarios": "employees",
    "telefone": "phone",
    "cidade": "city",
    "estado": "state",
    "uf": "state",
    "responsavel": "owner",
    "rentabilidade": "profitability",
    "potencial": "purchase_potential",
    "potencial_de_compra": "purchase_potential",
    "grau_de_relacionamento": "relationship_degree",
    "relacionamento": "relationship_degree",
}
_LEVELS = {
    "high": Level.HIGH,
    "alta": Level.HIGH,
    "alto": Level.HIGH,
    "a": Level.HIGH,
    "medium": Level.MEDIUM,
    "media": Level.MEDIUM,
    "medio": Level.MEDIUM,
    "b": Level.MEDIUM,
    "low": Level.LOW,
    "baixa": Level.LOW,
    "baixo": Level.LOW,
    "c": Level.LOW,
}
TEXT_FIELDS = {"external_id": 100, "name": 200, "industry": 100, "city": 100}
LEVEL_FIELDS = ("profitability", "purchase_potential", "relationship_degree")
UPDATABLE = [*TEXT_FIELDS, *LEVEL_FIELDS, "cnpj", "domain", "employees", "phone", "state"]
KNOWN = {*TEXT_FIELDS, *LEVEL_FIELDS, "cnpj", "domain", "employees", "phone", "state", "owner"}


def field_name(header: str) -> str:
    key = column_key(header)
    return ALIASES.get(key, key)


def _clean_value(name: str, value: Any) -> Any:
    text = " ".join(str(value).split())
    if name in TEXT_FIELDS:
        if len(text) > TEXT_FIELDS[name]:
            raise ValueError(_("longer than %(limit)d characters") % {"limit": TEXT_FIELDS[name]})
        return text
    if name in LEVEL_FIELDS:
        level = _LEVELS.get(column_key(fold(text)))
        if level is None:
            raise ValueError(_("%(value)s is not high, medium or low") % {"value": value})
        return level
    if name == "cnpj":
        digits = "".join(ch for ch in text if ch.isdigit())
        if not cnpj_is_valid(digits):
            raise ValueError(_("%(value)s is not a valid CNPJ") % {"value": value})
        return digits
    if name == "domain":
        return (
            text.lower()
            .removeprefix("https://")
            .removeprefix("http://")
            .removeprefix("www.")
            .strip("/")[:120]
        )
    if name == "employees":
        if not text.isdigit():
            raise ValueError(_("%(value)s is not a whole number") % {"value": value})
        return int(text)
    if name == "phone":
        return normalize_phone(text)
    if name == "state":
        if (uf := state_code(text)) is None:
            raise ValueError(_("%(value)s is not a Brazilian state") % {"value": value})
        return uf
    if name == "owner":
        return normalize_email(text)
    raise KeyError(name)


def clean_company(
    data: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, str]]]:
    """One company → (values, custom attributes, errors)."""
    values: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for name, value in given_values(data).items():
        if not name:
            continue
        if name not in KNOWN:
            attributes[name] = value.strip() if isinstance(value, str) else value
            continue
        try:
            values[name] = _clean_value(name, value)
        except ValueError as exc:
            errors.append((name, str(exc)))
    if not errors and not ({"external_id", "cnpj", "name"} & values.keys()):
        errors.append(("name", _("a company needs an external_id, a CNPJ or a name")))
    return values, attributes, errors


def companies_clean(rows: Sequence[tuple[int, Mapping[str, Any]]]) -> CleanBatch:
    batch = CleanBatch()
    for line, data in rows:
        values, attributes, errors = clean_company(data)
        if errors:
            batch.result.fail(line, errors)
        else:
            batch.items.append((line, (values, attributes)))
    return batch


def companies_write(batch: CleanBatch) -> BatchResult:
    if batch.items:
        with transaction.atomic():
            _write([(line, v, a) for line, (v, a) in batch.items], batch.result)
    return batch.result


def companies_upsert(rows: Sequence[tuple[int, Mapping[str, Any]]]) -> BatchResult:
    return companies_write(companies_clean(rows))


def _write(cleaned: list[tuple[int, dict[str, Any], dict[str, Any]]], result: BatchResult) -> None:
    exts = {v["external_id"] for _l, v, _a in cleaned if "external_id" in v}
    cnpjs = {v["cnpj"] for _l, v, _a in cleaned if "cnpj" in v}
    names = {search_key(v["name"]) for _l, v, _a in cleaned if "name" in v}
    known = list(
        Company.objects.filter(
            Q(external_id__in=exts) | Q(cnpj__in=cnpjs) | Q(search_name__in=names)
        ).order_by("id")
    )
    owners = dict(
        User.objects.filter(
            email__in={v["owner"] for _l, v, _a in cleaned if "owner" in v}
        ).values_list("email", "id")
    )
    by_ext = {c.external_id: c for c in known if c.external_id}
    by_cnpj = {c.cnpj: c for c in known if c.cnpj}
    by_name: dict[str, Company] = {}
    for company in known:
        by_name.setdefault(company.search_name, company)
    now = timezone.now()
    touched: dict[int, tuple[Company, list[int], Status]] = {}
    for line, values, attributes in cleaned:
        if "owner" in values and values["owner"] not in owners:
            result.fail(
                line,
                [("owner", _("no user has the e-mail %(email)s") % {"email": values["owner"]})],
            )
            continue
        company = (
            by_ext.get(values.get("external_id"))
            or by_cnpj.get(values.get("cnpj"))
            or (
                by_name.get(search_key(values["name"]))
                if "name" in values and "external_id" not in values
                else None
            )
        )
        status: Status = "unchanged"
        if company is None:
            name = values.get("name") or values.get("external_id") or values["cnpj"]
            company = Company(name=name, created_at=now, updated_at=now)
            status = "created"
        owner = values.pop("owner", None)
        for name, value in values.items():
            if getattr(company, name) != value:
                setattr(company, name, value)
                status = "updated" if status == "unchanged" else status
        if owner and company.owner_id != owners[owner]:
            company.owner_id = owners[owner]
            status = "updated" if status == "unchanged" else status
        if attributes and {**company.attributes, **attributes} != company.attributes:
            company.attributes = {**company.attributes, **attributes}
            status = "updated" if status == "unchanged" else status
        company.search_name = search_key(company.name)
        if status != "unchanged":
            company.updated_at = now
        previous = touched.get(id(company))
        lines = [*(previous[1] if previous else []), line]
        if previous and previous[2] != "unchanged":
            status = previous[2]  # created stays created; updated stays updated
        touched[id(company)] = (company, lines, status)
        if company.external_id:
            by_ext[company.external_id] = company
        if company.cnpj:
            by_cnpj[company.cnpj] = company
        by_name.setdefault(company.search_name, company)
    entries = list(touched.values())
    Company.objects.bulk_create(
        [c for c, _lines, status in entries if c.pk is None], batch_size=500
    )
    changed = [c for c, _lines, status in entries if status == "updated"]
    Company.objects.bulk_update(
        changed, [*UPDATABLE, "search_name", "attributes", "owner", "updated_at"], batch_size=250
    )
    for company, lines, status in entries:
        for index, line in enumerate(lines):
            result.record(line, "updated" if index and status == "created" else status, company.pk)
