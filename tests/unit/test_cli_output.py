"""The CLI prints user data as written: its consoles read no Rich markup, and no print call writes markup.

Rich reads ``[c2pa]`` or ``[bold]`` inside a title as markup and eats it. ``cli/common.py`` builds its consoles
with ``markup=False``; styled words are ``rich.text.Text`` spans. A print call that still writes markup (merged
from a branch written before this rule) would print ``[bold red]`` literally: this test finds it first. A call
that opts back in with ``markup=True`` must escape every value it formats (``rich.markup.escape``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "src" / "copyalign" / "cli"
TAG = re.compile(r"\[/?(?:bold|dim|italic|underline|red|green|yellow|blue|cyan|magenta|white|link)\b[^\]]*\]|\[/\]")


def _literal_text(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal_text(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _literal_text(node.left) + _literal_text(node.right)
    return ""


def _print_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "print":
                calls.append((f"{path.name}:{node.lineno}", node))
    return calls


def test_the_consoles_read_no_markup() -> None:
    from copyalign.cli.common import err, out

    assert out._markup is False and err._markup is False


def test_no_print_call_writes_markup_into_a_console_that_reads_none() -> None:
    found = []
    for where, call in _print_calls():
        markup = next((k.value for k in call.keywords if k.arg == "markup"), None)
        opted_in = isinstance(markup, ast.Constant) and markup.value is True
        if call.args and TAG.search(_literal_text(call.args[0])) and not opted_in:
            found.append(where)
    assert found == [], f"print calls writing Rich markup (build a rich.text.Text instead): {found}"


def test_a_print_that_opts_into_markup_escapes_what_it_formats() -> None:
    bad = []
    for where, call in _print_calls():
        if not any(
            k.arg == "markup" and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords
        ):
            continue
        for node in ast.walk(call.args[0]) if call.args else ():
            if isinstance(node, ast.FormattedValue):
                v = node.value
                if not (isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "escape"):
                    bad.append(where)
    assert bad == [], f"markup=True with unescaped values: {bad}"


def test_a_title_with_brackets_prints_as_written(capsys) -> None:  # type: ignore[no-untyped-def]
    from rich.text import Text

    from copyalign.cli.common import out

    out.print("[c2pa] Poems [bold]x[/bold]", highlight=False)
    out.print(Text.assemble(("block", "bold red"), "  [c2pa]"))
    assert capsys.readouterr().out.splitlines() == ["[c2pa] Poems [bold]x[/bold]", "block  [c2pa]"]
