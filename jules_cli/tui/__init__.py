"""The full-screen front-end (`jules dashboard`), built with Textual.

It stands beside `jules_cli/cli/` on the same domain modules and API client (DESIGN.md,
"Front-ends over one core"), and is imported only by the dashboard command: Textual is
never on any other command's start-up path (tests/test_import_budget.py).
"""
