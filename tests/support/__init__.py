"""Helpers shared by the tests that run Régua's commands as real processes."""
