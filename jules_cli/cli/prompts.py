"""Questions asked of the person at the terminal, on stderr.

Each question is written in one piece, trailing space included, before the read starts:
an answer typed ahead (or by a test harness the moment the question shows) then lands
after the question, not before a late space (click's prompts write the space apart).
"""

from __future__ import annotations

import sys

YES = frozenset({"y", "yes"})
NO = frozenset({"n", "no"})


def ask(question: str) -> str | None:
    """One line from the user, the question on stderr; None at end of input."""
    try:
        # Inside the try: a Ctrl-C typed as soon as the question shows may arrive before
        # the read starts.
        sys.stderr.write(question)
        sys.stderr.flush()
        line = sys.stdin.readline()
    except KeyboardInterrupt:
        # End the prompt's line, so what is printed on the way out does not follow "^C".
        sys.stderr.write("\n")
        sys.stderr.flush()
        raise
    return None if line == "" else line.strip()


def confirm(question: str, *, default: bool = False) -> bool:
    """A yes/no question; Enter alone takes `default`, end of input is no."""
    choices = "[Y/n]" if default else "[y/N]"
    while True:
        reply = ask(f"{question} {choices}: ")
        if reply is None:
            sys.stderr.write("\n")
            return False
        reply = reply.lower()
        if not reply:
            return default
        if reply in YES:
            return True
        if reply in NO:
            return False
        sys.stderr.write("Please answer y or n.\n")
