"""The command line: click commands over the library, nothing else, one module per group
of commands (see :mod:`.root` for what they share).

Library errors (:class:`ZufiwatchError`) become one line on stderr and exit status 1;
usage errors exit 2 (click's convention).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import crawling, exporting, questions, service, triage, watching, web
from .root import App, cli

__all__ = ["App", "cli", "main"]

# The modules register their commands on ``cli`` when imported.
_COMMANDS = (crawling, exporting, questions, service, triage, watching, web)


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="zufiwatch")
