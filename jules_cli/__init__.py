"""jules: drive Google's Jules coding agent from the command line."""

__version__ = "0.1.0"
