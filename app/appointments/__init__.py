"""appointments package."""
