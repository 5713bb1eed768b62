"""Command-line entry points of the plugin SDK."""
