"""The operator's console: what the overview, lead, campaign, call, alert and appointment
pages show (read through app.db.console), the actions an operator takes from them (each
audited), and the server-rendered templates (docs/console.md)."""
