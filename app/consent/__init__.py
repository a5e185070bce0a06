"""Consent: how a person says stop, start or help, in their own words (text, text-speak,
Spanish, emoji, a call's transcript). `revocation.classify` decides; `text` normalises;
`phrases` is what it knows; `keywords` is the inbound-SMS entry (ACK, Twilio's OptOutType)."""
