from .company import Company, ContactRole, Level, PowerRole
from .consent import Channel, Consent, ConsentChange, ConsentStatus
from .contact import Contact, ContactTag, Gender, RelationshipType, Stage, StageChange, Tag
from .interaction import Direction, Interaction, InteractionKind

__all__ = [
    "Channel",
    "Company",
    "Consent",
    "ConsentChange",
    "ConsentStatus",
    "Contact",
    "ContactRole",
    "ContactTag",
    "Direction",
    "Gender",
    "Interaction",
    "InteractionKind",
    "Level",
    "PowerRole",
    "RelationshipType",
    "Stage",
    "StageChange",
    "Tag",
]
