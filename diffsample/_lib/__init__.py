"""Backend resolution and per-backend fast paths (internal)."""
