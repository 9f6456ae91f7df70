from .clean import ContactInput, clean_contact, field_name
from .companies import companies_clean, companies_upsert, companies_write
from .companies import field_name as company_field_name
from .contacts import contacts_clean, contacts_resolve, contacts_upsert, contacts_write

__all__ = [
    "ContactInput",
    "clean_contact",
    "companies_clean",
    "companies_upsert",
    "companies_write",
    "company_field_name",
    "contacts_clean",
    "contacts_resolve",
    "contacts_upsert",
    "contacts_write",
    "field_name",
]
