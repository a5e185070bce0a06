"""Appointments (issue 8): confirmations, reminders, replies, no-shows and the daily digest.

See docs/appointments.md. The `appointments` job body is `app.appointments.loop:run`; the
daily digest is sent by the `growth` job through `app.appointments.digest.maybe_send_digest`.
"""
