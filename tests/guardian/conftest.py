from tests.alerts.support import make_ctx

__all__ = ["make_ctx"]
