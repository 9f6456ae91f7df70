from .company import Company, ContactRole, Level, PowerRole
from .consent import Channel, Consent, ConsentChange, ConsentPurpose, ConsentStatus, LegalBasis
from .contact import Contact, ContactTag, Gender, RelationshipType, Stage, StageChange, Tag
from .interaction import Direction, Interaction, InteractionKind

__all__ = [
    "Channel",
    "Company",
    "Consent",
    "ConsentChange",
    "ConsentPurpose",
    "ConsentStatus",
    "Contact",
    "ContactRole",
    "ContactTag",
    "Direction",
    "Gender",
    "Interaction",
    "InteractionKind",
    "LegalBasis",
    "Level",
    "PowerRole",
    "RelationshipType",
    "Stage",
    "StageChange",
    "Tag",
]
