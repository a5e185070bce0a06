"""The provider layer: ports, adapters (Resend, Twilio, Vapi), dry-run twins, delivery.

Everything outbound goes through `Providers.delivery` (claim → send → record) or, for code
that manages its own outbox row, through the ports. See docs/providers.md.
"""

from app.providers.build import Providers, build_providers

__all__ = ["Providers", "build_providers"]
