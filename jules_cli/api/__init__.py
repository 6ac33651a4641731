"""The HTTP layer: knows the Jules REST API, nothing of Typer or Rich."""

from jules_cli.api.client import DEFAULT_API_URL, JulesClient, RetryPolicy

__all__ = ["DEFAULT_API_URL", "JulesClient", "RetryPolicy"]
