"""Read deploy/Containerfile into stages of instructions, for the image's static checks."""

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse(path: Path) -> list[Stage]:
    """The stages of a Containerfile; instructions before the first FROM (global ARGs) are left
    out. Continuation lines are joined and comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    stages = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, arguments.strip()))
    return stages


def without_options(arguments: str) -> str:
    """The arguments of COPY or HEALTHCHECK without their leading --options."""
    words = arguments.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    return " ".join(words)


def command_words(arguments: str) -> list[str]:
    """A RUN, CMD or ENTRYPOINT command as words, from its exec (JSON) or shell form."""
    if arguments.startswith("["):
        return json.loads(arguments)
    return shlex.split(arguments)


def shell_commands(arguments: str) -> list[list[str]]:
    """Each command of a shell-form RUN line (split at && and ;), without VAR=value prefixes."""
    commands = []
    for part in re.split(r"&&|;", arguments):
        words = shlex.split(part)
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words.pop(0)
        if words:
            commands.append(words)
    return commands
