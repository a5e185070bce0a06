from tests.alerts.support import fresh_pager, make_ctx

__all__ = ["fresh_pager", "make_ctx"]
