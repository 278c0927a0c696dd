"""A RUN's shell command as a syntax tree (tree-sitter's bash grammar, which reads `case`,
`[[ ]]`, arrays and functions): the simple commands wherever they sit, with their words'
positions, and what joining the command with another would risk.

The judgements are conservative by construction: a command is known to leave no shell state
behind only where every command in it is an external program or one of a few builtins that
change nothing (echo, printf without -v, test, true...); anything else (cd, a bare X=1, eval,
builtin, set, a function) counts as changing the shell's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

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


PARSER = Parser(Language(tree_sitter_bash.language()))
STATE_STATEMENTS = {"function_definition": "a function definition",
                    "for_statement": "a for loop (its variable stays set)",
                    "c_style_for_statement": "a for loop (its variable stays set)"}
"""Statements that leave shell state behind though no simple command in them does."""
REDIRECTS = {"file_redirect", "heredoc_redirect", "herestring_redirect", "heredoc_body"}


def read_script(body: str) -> Script | str:
    """The body's tree, or why it cannot be read (where the grammar finds an error)."""
    data = body.encode()
    tree = PARSER.parse(data)
    at = _char_offsets(body, data)
    if tree.root_node.has_error:
        wrong = _first_error(tree.root_node)
        start = at(wrong.start_byte)
        return f"near `{(body[start:].split() or [body[:20]])[0][:40]}`"
    statements = [n for n in tree.root_node.named_children if n.type != "comment"]
    if not statements:
        return "no command"
    found: list[ShellCommand] = []
    state = ""
    for node in _walk(tree.root_node):
        if node.type == "command":
            found.append(_command(node, at))
        elif node.type in ("declaration_command", "unset_command"):
            words = [c for c in node.named_children if c.type not in REDIRECTS]
            first = node.children[0]  # the keyword (export, local, unset...)
            found.append(ShellCommand((_text(first), *(_unquoted(w) for w in words)),
                                      ((at(first.start_byte), at(first.end_byte)),
                                       *((at(w.start_byte), at(w.end_byte)) for w in words)),
                                      at(node.start_byte), at(node.end_byte)))
        elif node.type == "variable_assignment" and node.parent is not None and \
                node.parent.type not in ("command", "declaration_command"):
            found.append(ShellCommand((), (), at(node.start_byte), at(node.end_byte), 1))
        elif node.type in STATE_STATEMENTS and not state:
            state = STATE_STATEMENTS[node.type]
    # a last `;` or `&` belongs to the commands (dropped, `a &` would wait for a): such a
    # body is no plain && list, so a rewrite puts it in a subshell, `( a; ) && b`
    last = [n for n in tree.root_node.children if n.type != "comment"][-1]
    plain = len(statements) == 1 and last == statements[0] and all(
        n.type == "command" for n in _and_list(statements[0]))
    state = next((_describe(c) for c in found if _changes_state(c)), state)
    return Script(commands=tuple(found), start=at(statements[0].start_byte),
                  end=at(last.end_byte), plain_and_list=plain, state=state,
                  ends_shell=next((_describe(c) for c in found if _ends_shell(c)), ""))


def _walk(node: Node) -> list[Node]:
    """Every node below `node`, in the order they are written."""
    found, stack = [], list(reversed(node.children))
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(reversed(current.children))
    return found


def _first_error(node: Node) -> Node:
    return next(n for n in [node, *_walk(node)] if n.type == "ERROR" or n.is_missing or (
        n.has_error and not any(c.has_error for c in n.children)))


def _and_list(node: Node) -> list[Node]:
    """The statements of an && list (a redirected command counts as its command); a node
    that is no && list is itself. The grammar reads `a && b > f` as the list redirected;
    bash redirects b alone, so both are the list `a && b`."""
    body = node.child_by_field_name("body")
    if node.type == "redirected_statement" and body is not None:
        return _and_list(body)
    if node.type != "list" or any(c.type == "||" for c in node.children):
        return [node]
    return [part for child in node.named_children if child.type != "comment"
            for part in _and_list(child)]


def _command(node: Node, at: Callable[[int], int]) -> ShellCommand:
    words = [c for c in node.named_children
             if c.type not in ("variable_assignment", *REDIRECTS) and c.type != "comment"]
    words = [w.named_children[0] if w.type == "command_name" else w for w in words]
    return ShellCommand(tuple(_unquoted(w) for w in words),
                        tuple((at(w.start_byte), at(w.end_byte)) for w in words),
                        at(node.start_byte), at(node.end_byte),
                        sum(c.type == "variable_assignment" for c in node.named_children))


def _unquoted(node: Node) -> str:
    """A word as the shell passes it on, quotes removed (expansions left as written)."""
    text = _text(node)
    if node.type in ("raw_string", "string"):
        return text[1:-1]
    if node.type == "ansi_c_string":
        return text[2:-1]
    if node.type == "concatenation":
        return "".join(_unquoted(c) for c in node.children)
    if node.type == "word":
        out, escaped = [], False
        for char in text:
            if escaped or char != "\\":
                out.append(char)
            escaped = not escaped and char == "\\"
        return "".join(out)
    return text


def _text(node: Node) -> str:
    return (node.text or b"").decode()


def _char_offsets(body: str, data: bytes) -> Callable[[int], int]:
    """Byte offsets (tree-sitter's) to offsets in the body's characters."""
    if len(data) == len(body):
        return lambda offset: offset
    starts = [0]
    for char in body:
        starts.append(starts[-1] + len(char.encode()))
    index = {byte: char for char, byte in enumerate(starts)}
    return lambda offset: index[offset]


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


WRAPPERS = {"sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-T", "-U", "--user",
                     "--group", "--chdir", "--host", "--prompt", "--role", "--type",
                     "--close-from", "--command-timeout", "--other-user"},
            "env": {"-u", "-C", "-S", "--unset", "--chdir", "--split-string"},
            "nice": {"-n", "--adjustment"}, "ionice": {"-c", "-n", "-p", "--class",
                                                       "--classdata"},
            "nohup": set(), "time": {"-f", "-o", "--format", "--output"},
            "stdbuf": {"-i", "-o", "-e"},
            "xargs": {"-a", "-d", "-E", "-e", "-I", "-i", "-L", "-l", "-n", "-P", "-s",
                      "--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars",
                      "--max-lines", "--replace", "--eof"}}
"""Programs that run the command that follows them (their own options first, `NAME=value`
words for sudo and env), with the options that take a value as the next word."""
VALUED_OPTIONS = {"apt-get": {"-o", "-c", "-t", "--option", "--config-file",
                              "--target-release", "--default-release"},
                  "pip": {"-i", "--index-url", "--extra-index-url", "--proxy", "--log",
                          "--cache-dir", "--timeout", "--retries", "--python"},
                  "npm": {"--prefix", "--registry", "--cache", "-w", "--workspace"}}
VALUED_OPTIONS["apt"] = VALUED_OPTIONS["apt-get"]


def behind_sudo(command: ShellCommand) -> bool:
    """The command's program runs through sudo: what harness adds beside it needs sudo too."""
    wrappers = command.words[:len(command.words) - len(run_words(command))]
    return "sudo" in (Path(w).name for w in wrappers)


def run_words(command: ShellCommand) -> tuple[str, ...]:
    """The words of the program the command runs, behind any wrappers: `sudo -u app env
    A=1 nice -n 5 apt-get install x` runs `apt-get install x`."""
    words = command.words
    while words and Path(words[0]).name in WRAPPERS:
        name, at = Path(words[0]).name, 1
        while at < len(words) and (words[at].startswith("-") or (
                name in ("sudo", "env") and "=" in words[at])):
            if words[at] == "--":
                at += 1
                break
            at += 2 if words[at] in WRAPPERS[name] else 1
        words = words[at:]
    return words


def is_command(command: ShellCommand, *words: str) -> bool:
    """`command` runs `words` (a program and its subcommand), options between allowed, behind
    any wrappers (sudo, env, nice, xargs...)."""
    found = run_words(command)
    if not found:
        return False
    program, arguments = Path(found[0]).name, list(found[1:])
    if words[0] == "pip" and program.startswith("python") and arguments[:2] == ["-m", "pip"]:
        program, arguments = "pip", arguments[2:]
    elif words[0] == "pip" and program == "pip3":
        program = "pip"
    if program != words[0]:
        return False
    valued, rest, skip = VALUED_OPTIONS.get(program, set()), [], False
    for word in arguments:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in valued
        else:
            rest.append(word)
    return rest[:len(words) - 1] == list(words[1:])


def word_end(command: ShellCommand, word: str) -> int | None:
    """Where the first word equal to `word` ends in the body, after the program's name
    (behind any wrappers)."""
    after = len(command.words) - len(run_words(command)) + 1
    for text, (_, end) in zip(command.words[after:], command.spans[after:], strict=True):
        if text == word:
            return end
    return None
