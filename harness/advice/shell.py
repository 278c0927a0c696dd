"""A RUN's shell command as a syntax tree (bashlex): the simple commands wherever they sit,
with their words' positions, and what joining the command with another would risk.

The judgements are conservative by construction: a command is known to leave no shell state
behind only where every command in it is an external program or one of a few builtins that
change nothing (echo, printf without -v, test, true...); anything else (cd, a bare X=1, eval,
builtin, set, a function) counts as changing the shell's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bashlex

BUILTINS = {".", ":", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command",
            "compgen", "complete", "compopt", "continue", "declare", "dirs", "disown", "echo",
            "enable", "eval", "exec", "exit", "export", "false", "fc", "fg", "getopts", "hash",
            "help", "history", "jobs", "kill", "let", "local", "logout", "mapfile", "popd",
            "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "set", "shift",
            "shopt", "source", "suspend", "test", "times", "trap", "true", "type", "typeset",
            "ulimit", "umask", "unalias", "unset", "wait"}
"""sh's and bash's builtins: they run inside the shell, so they may change its state."""
STATELESS_BUILTINS = {":", "[", "echo", "false", "pwd", "test", "true", "type", "printf"}
"""The builtins known to leave the shell as they found it (printf only without -v)."""
ENDS_SHELL = {"exit", "logout", "return"}


@dataclass(frozen=True)
class ShellCommand:
    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    """Each word's span in the body."""
    start: int
    end: int
    """Its span in the body."""
    assignments: int = 0
    """How many `NAME=value` words stand before the first word (or alone)."""


@dataclass(frozen=True)
class Script:
    """A body's shell tree, read once."""

    commands: tuple[ShellCommand, ...]
    start: int
    end: int
    """The span of the body's commands: what follows `end` is a trailing comment."""
    plain_and_list: bool
    """Simple commands joined by && only: joined to another with && it means the same."""
    state: str
    """The first command that may change the shell's state ("" where none does)."""
    ends_shell: str
    """The first command that ends the shell (exit, exec of a program), "" where none."""

    @property
    def standalone(self) -> bool:
        """Joinable with && as it is: no state left for the next command, no early end."""
        return self.plain_and_list and not self.state and not self.ends_shell


def read_script(body: str) -> Script | str:
    """The body's tree, or why it cannot be read (the construct bashlex does not know)."""
    try:
        trees = bashlex.parse(body)
    except bashlex.errors.ParsingError as error:
        before, after = body[:error.position], body[error.position:]
        start = len(before.rstrip()) - len(before.rstrip().split()[-1]) if before.strip() else 0
        near = before[start:] + (after.split()[0] if after.split() else "")
        return f"near `{near.strip() or body[:20]}`"
    except (NotImplementedError, IndexError, AttributeError, TypeError, AssertionError):
        return "a construct the shell parser does not know"
    if not trees:
        return "no command"
    found: list[ShellCommand] = []
    compound = [False]

    class Visitor(bashlex.ast.nodevisitor):
        def visitcommand(self, node: Any, parts: list[Any]) -> bool:
            words = [p for p in parts if getattr(p, "kind", "") == "word"]
            assignments = [p for p in parts if getattr(p, "kind", "") == "assignment"]
            found.append(ShellCommand(tuple(w.word for w in words),
                                      tuple(tuple(w.pos) for w in words),
                                      node.pos[0], node.pos[1], len(assignments)))
            return True

        def visitfunction(self, node: Any, name: Any, body: Any, parts: Any) -> bool:
            compound[0] = True
            return True

    for tree in trees:
        Visitor().visit(tree)
    plain = len(trees) == 1 and (trees[0].kind == "command" or (
        trees[0].kind == "list" and all(p.kind == "command" or (
            p.kind == "operator" and p.op == "&&") for p in trees[0].parts)))
    state = next((_describe(c) for c in found if _changes_state(c)), "")
    if compound[0] and not state:
        state = "a function definition"
    return Script(commands=tuple(found), start=trees[0].pos[0], end=trees[-1].pos[1],
                  plain_and_list=plain, state=state,
                  ends_shell=next((_describe(c) for c in found if _ends_shell(c)), ""))


def _changes_state(command: ShellCommand) -> bool:
    if not command.words:
        return bool(command.assignments)  # a bare X=1 stays set for what follows
    program = command.words[0]
    if any(c in program for c in "$`"):
        return True  # which program runs is known only when it runs
    if program == "printf":
        return "-v" in command.words[1:]
    return program in BUILTINS and program not in STATELESS_BUILTINS


def _ends_shell(command: ShellCommand) -> bool:
    if not command.words:
        return False
    return command.words[0] in ENDS_SHELL or (command.words[0] == "exec" and len(command.words)
                                               > 1)  # exec with redirections only stays


def _describe(command: ShellCommand) -> str:
    return f"`{' '.join(command.words[:2]) or 'an assignment'}`"


def is_command(command: ShellCommand, *words: str) -> bool:
    """`command` runs `words` (a program and its subcommand), options between allowed."""
    if not command.words:
        return False
    program, arguments = Path(command.words[0]).name, list(command.words[1:])
    if words[0] == "pip" and program.startswith("python") and arguments[:2] == ["-m", "pip"]:
        program, arguments = "pip", arguments[2:]
    elif words[0] == "pip" and program == "pip3":
        program = "pip"
    if program != words[0]:
        return False
    rest = [w for w in arguments if not w.startswith("-")]
    return rest[:len(words) - 1] == list(words[1:])


def word_end(command: ShellCommand, word: str) -> int | None:
    """Where the first word equal to `word` ends in the body, after the program's name."""
    for text, (_, end) in zip(command.words[1:], command.spans[1:], strict=True):
        if text == word:
            return end
    return None
