"""What every CLI command shares: settings from flags and the environment, output, and error handling.

Run on a local database, the CLI acts as the registry's operator (the first operator party), so that a
first user can register and look up works at once without handling keys.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from copyalign.errors import CopyalignError

if TYPE_CHECKING:
    from copyalign.context import Copyalign
    from copyalign.services.registry.parties import Principal
    from copyalign.settings import Settings

# soft_wrap: a message (a path, a key) is never broken across lines, whatever the terminal width.
# markup=False: what the CLI prints is mostly user data (titles, names, reasons, file names), and Rich would read
# "[c2pa]" or "[bold]" in a title as markup and eat it. Styled output is built as rich.text.Text
# (``Text.assemble(("error:", "bold red"), " ", message)``), never by formatting user data into markup;
# tests/unit/test_cli_output.py refuses a print call that writes markup with markup off, or with user data in it.
err = Console(stderr=True, soft_wrap=True, markup=False)
out = Console(soft_wrap=True, markup=False)  # keys and digests must stay on one line to be copied


@dataclass
class State:
    db: str | None = None
    data_dir: str | None = None
    policy: str | None = None

    def settings(self) -> Settings:
        from copyalign.settings import Settings

        return Settings.from_env(database_url=self.db, data_dir=self.data_dir, policy=self.policy)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


def emit(obj: dict[str, Any]) -> None:
    """One JSON object per line on stdout (the ``--json`` contract)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(exc: CopyalignError, as_json: bool) -> NoReturn:
    if as_json:
        emit({"error": exc.to_dict()})
    # the message is plain text, never Rich markup: "pip install 'copyalign[c2pa]'" must print as written
    err.print(Text.assemble(("error:", "bold red"), " ", exc.message), highlight=False)
    raise typer.Exit(1)


@contextmanager
def handled(as_json: bool = False) -> Iterator[None]:
    """Turn a :class:`CopyalignError` into a message and exit status 1, never a traceback."""
    try:
        yield
    except CopyalignError as exc:
        fail(exc, as_json)


def open_ca(ctx: typer.Context) -> Copyalign:
    from copyalign.context import connect

    return connect(state(ctx).settings())


def operator(ca: Copyalign) -> Principal:
    op = ca.parties.operator()
    if op is None:
        raise CopyalignError("this registry has no operator yet: run 'copyalign init' first", code="not_initialised")
    return op
