"""The command tree as plain data: what a TAB press and `--help` need, without Typer.

`describe(command)` walks a Click command tree (what `typer.main.get_command(app)` builds)
and returns nested dicts, lists and strings only. `scripts/generate_docs.py` writes that
for the real app into `jules_cli/cli/_command_tree.py`, and the drift test keeps it equal
to the code. `jules_cli.cli._tab` answers completion requests from it and
`jules_cli.cli._help` prints help pages from it, so neither has to import Typer, build the
app or import the command modules (and with them httpx or Rich) on every TAB press.

A command is a dict with these keys (a key is left out when it has its default):

    help          the full help text (str)
    short         the first sentence, for command lists and completion menus (str)
    usage         what follows the command path on the usage line (str)
    epilog        text printed after the options (str)
    hidden        left out of help and completion (bool)
    no_args_is_help   run without any word, it prints its help (bool)
    interspersed  options may follow positional words (bool, True for commands)
    ignore_unknown    unknown options are taken as positional words (bool)
    params        options and arguments in Click's order (list of dicts)
    commands      name -> command; a string names a sibling it is an alias of (groups)

A parameter is a dict:

    name          the Python name Click gives it (what callbacks see in ctx.params)
    argument      True for a positional argument (else an option)
    opts, secondary   option names, e.g. ["-r", "--repo"], ["--no-auto-pr"]
    flag          takes no value (flags and counters)
    nargs         words per value (1 unless said)
    multiple      may be given more than once
    required      (arguments)
    eager         processed before the others, in command-line order (--help, --version)
    help_option   this is the help option
    hidden        left out of help and completion
    help          its help text
    label         the left column of its help line, e.g. "-r, --repo <str>"
    extra         the bracketed note after its help, e.g. "[default: done]"
    values        where completion candidates come from:
                    {"choices": [...], "case_sensitive": bool}
                    {"files": True}  (the shell completes file names)
                    {"call": "module:function", "pass": {"ctx": "ctx", "incomplete": "q"}}
                    with "files": True as well when the parameter is a path
"""

from __future__ import annotations

import inspect
from typing import Any

# Context settings this description can express; any other one would make the fast paths
# parse differently from Click, so describing a tree that uses it fails loudly instead.
_SUPPORTED_SETTINGS = {"help_option_names", "ignore_unknown_options", "max_content_width"}


class UnsupportedCommand(Exception):
    """The tree uses a Click feature the fast help and completion paths do not follow."""


def describe(command: Any, name: str = "jules") -> dict[str, Any]:
    """`command` (a Click command or group) and everything under it, as plain data."""
    return _command(command, name, None)


def _context(command: Any, name: str, parent: Any) -> Any:
    settings = dict(getattr(command, "context_settings", None) or {})
    unsupported = set(settings) - _SUPPORTED_SETTINGS
    if unsupported:
        raise UnsupportedCommand(f"{name}: context settings {sorted(unsupported)}")
    return command.context_class(command, info_name=name, parent=parent, **settings)


def _is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")


def _command(command: Any, name: str, parent_ctx: Any) -> dict[str, Any]:
    ctx = _context(command, name, parent_ctx)
    if ctx.token_normalize_func is not None:
        raise UnsupportedCommand(f"{name}: token_normalize_func")
    node: dict[str, Any] = {}
    help_text = inspect.cleandoc(command.help or "").partition("\f")[0]
    if help_text:
        node["help"] = help_text
    short = command.get_short_help_str(limit=10**6)
    if short:
        node["short"] = short
    node["usage"] = _usage(command, ctx)
    if command.epilog:
        node["epilog"] = inspect.cleandoc(command.epilog)
    if command.hidden:
        node["hidden"] = True
    if command.no_args_is_help:
        node["no_args_is_help"] = True
    if ctx.allow_interspersed_args != (not _is_group(command)):
        node["interspersed"] = ctx.allow_interspersed_args
    if ctx.ignore_unknown_options:
        node["ignore_unknown"] = True
    help_option = command.get_help_option(ctx)
    node["params"] = [_param(param, ctx, param is help_option) for param in command.get_params(ctx)]
    if _is_group(command):
        node["commands"] = _subcommands(command, ctx)
    return node


def _usage(command: Any, ctx: Any) -> str:
    """What follows the command path on the usage line, in Click's notation: `ID` for a
    required argument, `[ID]` for an optional one, `ID...` for many (Typer's own line says
    `{ID}`; the man pages and these help pages say it the one way)."""
    pieces = [command.options_metavar] if command.options_metavar else []
    pieces += [
        argument_metavar(p) for p in command.get_params(ctx) if p.param_type_name == "argument"
    ]
    if _is_group(command):
        pieces.append(command.subcommand_metavar)
    return " ".join(pieces)


def argument_metavar(param: Any) -> str:
    name = param.metavar or param.name.upper()
    if param.nargs != 1 and not name.endswith("..."):
        name += "..."
    if not param.required and not name.startswith("["):
        name = f"[{name}]"
    return name


def _subcommands(group: Any, ctx: Any) -> dict[str, Any]:
    described: dict[str, Any] = {}
    for sub_name in group.list_commands(ctx):
        sub = group.get_command(ctx, sub_name)
        if sub is not None:
            described[sub_name] = _command(sub, sub_name, ctx)
    # A hidden alias (`sessions` for `session`) points at its visible twin, not a copy.
    for sub_name, node in list(described.items()):
        if not node.get("hidden"):
            continue
        twin = {**node}
        twin.pop("hidden")
        for other_name, other in described.items():
            if other_name != sub_name and isinstance(other, dict) and other == twin:
                described[sub_name] = other_name
                break
    return described


def _param(param: Any, ctx: Any, is_help_option: bool) -> dict[str, Any]:
    is_option = param.param_type_name == "option"
    described: dict[str, Any] = {"name": param.name}
    if is_option:
        described["opts"] = list(param.opts)
        if is_help_option:
            # Click builds the help option from a set: keep the order the app gave.
            described["opts"] = [n for n in ctx.help_option_names if n in param.opts]
        if param.secondary_opts:
            described["secondary"] = list(param.secondary_opts)
        if param.is_flag or param.count:
            described["flag"] = True
        if param.multiple:
            described["multiple"] = True
    else:
        described["argument"] = True
        if param.required:
            described["required"] = True
    if param.nargs != 1:
        described["nargs"] = param.nargs
    if param.is_eager:
        described["eager"] = True
    if is_help_option:
        described["help_option"] = True
    if getattr(param, "hidden", False):
        described["hidden"] = True
    help_text = getattr(param, "help", None) or ""
    if help_text:
        described["help"] = help_text
    record = param.get_help_record(ctx)
    if record is not None:
        label, full_help = record
        described["label"] = label if is_option else argument_metavar(param)
        extra = full_help[len(help_text) :].strip() if full_help.startswith(help_text) else ""
        if extra:
            described["extra"] = extra
    values = _values(param, ctx)
    if values:
        described["values"] = values
    return described


def _values(param: Any, ctx: Any) -> dict[str, Any] | None:
    if param.param_type_name == "option" and (param.is_flag or param.count):
        return None
    takes_path = getattr(param.type, "name", "") in ("path", "filename")
    custom = getattr(param, "_custom_shell_complete", None)
    if custom is not None:
        return {**_callback(param, custom), **({"files": True} if takes_path else {})}
    items = param.type.shell_complete(ctx, param, "")
    if takes_path or any(getattr(item, "type", "plain") in ("file", "dir") for item in items):
        return {"files": True}
    if not items:
        return None
    return {
        "choices": [str(item.value) for item in items],
        "case_sensitive": bool(getattr(param.type, "case_sensitive", True)),
    }


def _callback(param: Any, custom: Any) -> dict[str, Any]:
    """The `autocompletion=` function behind Typer's wrappers, and which of ctx, args and
    incomplete it takes under which parameter names."""
    wrapper = inspect.getclosurevars(custom).nonlocals.get("autocompletion")
    roles = inspect.getclosurevars(wrapper).nonlocals if wrapper is not None else {}
    function = roles.get("callback")
    if function is None or "<" in function.__qualname__:
        raise UnsupportedCommand(
            f"{param.name}: completion callbacks must be module-level functions"
        )
    passes = {
        role: roles[f"{role}_name"]
        for role in ("ctx", "args", "incomplete")
        if roles.get(f"{role}_name")
    }
    return {"call": f"{function.__module__}:{function.__qualname__}", "pass": passes}
