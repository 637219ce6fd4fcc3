"""Write the configuration reference (docs/configuration.md) from the YAML files under conf/.

    python scripts/config_reference.py            # (re)write docs/configuration.md
    python scripts/config_reference.py --check    # exit 1 when the committed page is stale

Every entry config (conf/*.yaml) and every option of every config group (conf/<group>/*.yaml) is
listed with its leading comment and each of its settings with the comment written above or beside
it. The page is generated, never edited by hand: `make docs` and the test suite check that it
matches conf/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
PAGE = REPO / "docs" / "configuration.md"

HEADER = """# Configuration reference

Generated from `conf/` by `python scripts/config_reference.py` (`make docs` checks it is current;
the test suite fails when a config changes without it). Choose an option of a group with
`group=option` on the command line (`cnngan-train data=mnist logger=wandb`), change one setting
with `group.key=value` (`cnngan-train trainer.max_epochs=5`), and add a key that a config does not
have with `+group.key=value`. `experiment=` files set several groups at once.
"""


def comment_text(line: str) -> str:
    """The text of a comment line (`# text` -> `text`)."""
    return line.strip().lstrip("#").strip()


def leading_comment(lines: list[str]) -> tuple[str, list[str], int]:
    """The comment block at the top of a file (before its first setting): its prose, its example
    command lines (comment lines that start with a command), and where it ends."""
    text, commands, index = [], [], 0
    while index < len(lines) and (lines[index].startswith("#") or not lines[index].strip()):
        if lines[index].startswith("# @package"):
            index += 1
            continue
        line = comment_text(lines[index]) if lines[index].startswith("#") else ""
        if line.startswith(("cnngan-", "make ", "python ")):
            commands.append(line)
        elif line:
            text.append(line)
        index += 1
    return " ".join(text), commands, index


def settings(lines: list[str]) -> list[tuple[str, str]]:
    """(dotted key, comment) for each setting with a comment above it or beside it.

    Keys are followed by indentation (two spaces per level); list items and settings without a
    comment are left out: the file itself is linked for the full picture.
    """
    found, pending, path = [], [], []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(comment_text(stripped))
            continue
        if not stripped or stripped.startswith("- ") or ":" not in stripped:
            pending = [] if not stripped else pending
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        key = stripped.split(":", 1)[0].strip().strip("'\"")
        path = [*path[:depth], key]
        beside = stripped.split(" #", 1)[1].strip() if " #" in stripped else ""
        text = " ".join([*pending, beside]).strip()
        if text and key != "defaults":
            found.append((".".join(path), text))
        pending = []
    return found


def escape_pipes(text: str) -> str:
    """Table cells cannot hold a bare `|`."""
    return text.replace("|", "\\|")


def describe(file: Path, title: str) -> list[str]:
    lines = file.read_text().splitlines()
    summary, commands, start = leading_comment(lines)
    rel = file.relative_to(REPO).as_posix()
    out = [f"### {title}", "", f"`{rel}`" + (f": {summary}" if summary else ""), ""]
    if commands:
        out += ["```bash", *commands, "```", ""]
    rows = settings(lines[start:])
    if rows:
        out += ["| setting | what it does |", "|---|---|"]
        out += [f"| `{key}` | {escape_pipes(text)} |" for key, text in rows]
        out.append("")
    return out


def group_folders() -> list[Path]:
    """Config groups: folders of conf/ (nested ones too, e.g. hydra/launcher, metrics/suite)."""
    return sorted(p for p in CONF.rglob("*") if p.is_dir() and any(p.glob("*.yaml")))


def render() -> str:
    out = [HEADER, "## Entry configs", ""]
    for file in sorted(CONF.glob("*.yaml")):
        out += describe(file, f"`{file.stem}`")
    out += ["## Config groups", ""]
    for folder in group_folders():
        group = folder.relative_to(CONF).as_posix()
        options = sorted(folder.glob("*.yaml"))
        names = ", ".join(f"`{o.stem}`" for o in options)
        out += [f"## `{group}`", "", f"Options: {names}.", ""]
        for option in options:
            out += describe(option, f"`{group}={option.stem}`")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the page is stale")
    args = parser.parse_args(argv)
    page = render()
    if args.check:
        if not PAGE.is_file() or PAGE.read_text() != page:
            print(
                f"{PAGE.relative_to(REPO)} is out of date with conf/: run "
                "`python scripts/config_reference.py` (or `make docs`) and commit it",
                file=sys.stderr,
            )
            return 1
        return 0
    PAGE.write_text(page)
    print(f"wrote {PAGE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
