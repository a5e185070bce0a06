"""nightshift: the always-on back office of a small service business's outbound sales."""
