"""Régua: an open-source CRM built around the relationship cadence."""

__version__ = "0.1.0"
