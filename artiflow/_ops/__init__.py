"""One verb per module (the registry facade delegates here)."""
