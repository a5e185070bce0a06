"""The status page (`GET /status`) and `nightshift status`: one snapshot, two renderings."""
