"""A local, faithful emulator of the Jules REST API (v1alpha), stdlib only.

    Emulator            the in-memory state machine with simulated time (state.py)
    make_app            its WSGI app: /v1alpha/... plus the /_emulator/ control plane
    start_server        serve it on loopback in a background thread (tests)
    serve_forever       `jules emulator serve`
    PersistentEmulatorApp  in-process, state kept in a JSON file (the --emulator option)

See docs/emulator.md for the directives, the control plane and fault injection.
"""

from __future__ import annotations

from jules_cli.emulator.app import DropConnection, EmulatorApp, make_app
from jules_cli.emulator.inprocess import PersistentEmulatorApp
from jules_cli.emulator.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEMO_API_KEY,
    ServerHandle,
    serve_forever,
    start_server,
)
from jules_cli.emulator.state import Emulator, load_seed_file

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEMO_API_KEY",
    "DropConnection",
    "Emulator",
    "EmulatorApp",
    "PersistentEmulatorApp",
    "ServerHandle",
    "load_seed_file",
    "make_app",
    "serve_forever",
    "start_server",
]
