"""The command line: click commands over the library, nothing else, one module per group
of commands (see :mod:`.root` for what they share). A command's module is imported only
when that command runs or its help is shown (:data:`.root.COMMANDS`).

Library errors (:class:`ZufiwatchError`) become one line on stderr and exit status 1;
usage errors exit 2 (click's convention).
"""

from __future__ import annotations

from collections.abc import Sequence

from .root import App, cli

__all__ = ["App", "cli", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="zufiwatch")
