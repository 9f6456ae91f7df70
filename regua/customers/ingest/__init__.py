from .clean import ContactInput, clean_contact, field_name
from .companies import companies_upsert
from .companies import field_name as company_field_name
from .contacts import contacts_resolve, contacts_upsert

__all__ = [
    "ContactInput",
    "clean_contact",
    "companies_upsert",
    "company_field_name",
    "contacts_resolve",
    "contacts_upsert",
    "field_name",
]
