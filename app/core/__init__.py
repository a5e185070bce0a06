"""The core: settings, clock, logging and shared value types. Imports nothing of app."""
