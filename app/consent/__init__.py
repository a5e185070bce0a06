"""Consent: how a person says stop, start or help, in their own words."""
