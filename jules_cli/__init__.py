"""jules: drive Google's Jules coding agent from the command line."""

import sys

__version__ = "0.1.0"

# httpx's __init__ imports its own command-line entry point (httpx._main), which loads
# click, rich and pygments whenever click happens to be installed (uvicorn brings it, and
# the mcp extra brings uvicorn): ~30 ms and the whole of Rich on every command, --json ones
# included. jules never runs that entry point; a None entry makes httpx fall back to its
# stub `main` (the ImportError branch it has for a missing click).
sys.modules.setdefault("httpx._main", None)
