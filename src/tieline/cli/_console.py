"""The consoles the commands print to, sized by the environment of the moment.

A `rich` console fixes its width when it is made. Made once at import, it
would keep the `COLUMNS` of whoever imported the module first. These stand-ins
make a console on first use and make a new one whenever `COLUMNS` or `LINES`
has changed since; in between they hand out the same one, so that a live
display (a progress bar) starts and stops on one console.
"""

from __future__ import annotations

import os
from typing import Any, cast

from rich.console import Console


class _Current:
    """Stands for the `Console` that suits the environment now."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._made: tuple[tuple[str | None, str | None], Console] | None = None

    def _console(self) -> Console:
        size = (os.environ.get("COLUMNS"), os.environ.get("LINES"))
        if self._made is None or self._made[0] != size:
            self._made = (size, Console(**self._options))
        return self._made[1]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)

    # Dunder methods are looked up on the type, not through __getattr__.
    def __enter__(self) -> Console:
        return self._console().__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self._console().__exit__(*exc_info)


console = cast(Console, _Current())
err_console = cast(Console, _Current(stderr=True))
