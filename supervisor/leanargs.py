"""A small option parser with click's semantics, for the one command that must start lean: rl-watch.

click costs every watcher over a megabyte and ~15 ms of imports, fifty times over. This parses the
way the click command it replaces did (ignore_unknown_options, interspersed arguments), so command
lines mean what they meant:

- options may come before or after the positional arguments, up to the first `--`; everything after
  it is a positional argument, verbatim;
- an option that takes a value takes the next argument whatever it is (`--tz --` sets tz to `--`),
  or the text after `=` (long options) or after the letter (`-Cdir`);
- an unknown option is kept, in place, as a positional argument (`-xC dir` keeps `-x`);
- a repeated option: the last value wins; values are converted in the order the options first
  appear, so the first bad one on the command line is the one reported;
- `-h`/`--help` anywhere before `--` asks for the help, unless a value is missing.

Every error is a UsageProblem (exit status 2) that names the option, worded as click worded it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageProblem

HELP_NAMES = ("-h", "--help")
_METAVARS = {float: "FLOAT", int: "INTEGER", str: "TEXT"}
_TYPE_NAMES = {float: "float", int: "integer"}


@dataclass(frozen=True)
class Option:
    """One option: `--name VALUE` (and `-X VALUE` when `short`); `type` converts the value."""

    name: str
    help: str
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] = ()
    short: str | None = None

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")

    @property
    def metavar(self) -> str:
        return f"[{'|'.join(self.choices)}]" if self.choices else _METAVARS.get(self.type, "VALUE")

    def convert(self, value: str) -> Any:
        if self.choices:
            if value not in self.choices:
                raise ValueError(f"{value!r} is not one of {', '.join(map(repr, self.choices))}.")
            return value
        if self.type is str:
            return value
        try:
            converted = self.type(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a valid {_TYPE_NAMES.get(self.type, 'value')}.") from None
        if self.type is float and not math.isfinite(converted):
            raise ValueError(f"{value!r} is not a finite number.")  # a wait of nan or inf seconds
        return converted


@dataclass
class Parsed:
    """What a command line said: converted option values (only those given), the positional
    arguments in order, and whether help was asked for."""

    values: dict[str, Any] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)
    help: bool = False


@dataclass(frozen=True)
class Command:
    """A command's options table, its usage line, and its help text, all from the one table."""

    prog: str
    arguments: str
    summary: str
    options: tuple[Option, ...]
    examples: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        return f"Usage: {self.prog} [OPTIONS] {self.arguments}".rstrip()

    def problem(self, message: str) -> UsageProblem:
        """A usage error printed under the usage line, as click prints one."""
        return UsageProblem(message, usage=f"{self.usage}\nTry '{self.prog} --help' for help.")

    def parse(self, args: Sequence[str]) -> Parsed:
        """Parse `args` (without the command name); raises UsageProblem for bad input."""
        by_name = {o.name: o for o in self.options}
        by_short = {o.short: o for o in self.options if o.short}
        raw: dict[str, str] = {}
        order: list[Option] = []
        result = Parsed()
        rest = list(args)

        def take(opt: Option, given: str, value: str | None) -> None:
            if value is None:
                if not rest:
                    raise self.problem(f"Option {given!r} requires an argument.")
                value = rest.pop(0)
            raw[opt.dest] = value
            if opt not in order:
                order.append(opt)

        while rest:
            arg = rest.pop(0)
            if arg == "--":
                break
            if not arg.startswith("-") or len(arg) == 1:
                result.positionals.append(arg)
                continue
            name, eq, value = arg.partition("=")
            if name in by_name:
                take(by_name[name], name, value if eq else None)
            elif name == "--help":
                if eq:
                    raise self.problem("Option '--help' does not take a value.")
                result.help = True
            elif arg.startswith("--"):
                result.positionals.append(arg)  # unknown: kept for the runtime's argv
            else:
                self._short_cluster(arg, by_short, take, result)
        result.positionals += rest
        if result.help:
            return result  # help wins over bad values, as click's eager --help does
        for opt in order:
            try:
                result.values[opt.dest] = opt.convert(raw[opt.dest])
            except ValueError as exc:
                raise self.problem(f"Invalid value for {opt.name!r}: {exc}") from None
        return result

    @staticmethod
    def _short_cluster(arg: str, by_short: dict[str | None, Option], take: Callable[..., None],
                       result: Parsed) -> None:
        """`-Cdir`, `-xC dir`, `-h`: letters one by one; a letter that takes a value takes the rest
        of the cluster (or the next argument); unknown letters are kept as one `-xyz` argument."""
        unknown = []
        for i, letter in enumerate(arg[1:], start=2):
            flag = f"-{letter}"
            if flag in by_short:
                take(by_short[flag], flag, arg[i:] if i < len(arg) else None)
                if i < len(arg):
                    break
            elif flag == "-h":
                result.help = True
            else:
                unknown.append(letter)
        if unknown:
            result.positionals.append("-" + "".join(unknown))

    def help_text(self, width: int = 80) -> str:
        """`--help`: usage, summary, examples and one line per option of the table."""
        import textwrap

        lines = [self.usage, ""]
        lines += textwrap.wrap(self.summary, width - 2, initial_indent="  ", subsequent_indent="  ")
        if self.examples:
            lines += ["", *(f"    {e}" for e in self.examples)]
        lines += ["", "Options:"]
        rows = [(", ".join(filter(None, (o.short, o.name))) + f" {o.metavar}", o.help) for o in self.options]
        rows.append((", ".join(HELP_NAMES), "Show this message and exit."))
        col = min(max(len(left) for left, _ in rows) + 4, 34)
        for left, text in rows:
            body = textwrap.wrap(text, max(width - col, 20))
            if len(left) + 4 > col:
                lines.append(f"  {left}")
                lines += [" " * col + b for b in body]
            else:
                lines.append(f"  {left.ljust(col - 2)}{body[0]}")
                lines += [" " * col + b for b in body[1:]]
        return "\n".join(lines) + "\n"
