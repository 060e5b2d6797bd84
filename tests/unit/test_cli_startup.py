"""The CLI starts fast: ``copyalign --version`` and ``--help`` load the command definitions only, never the
database, web or numeric stacks (issue 21: a command that costs 2 s of imports before it does anything is a
command people stop using). Timing lives in benchmarks/cli_startup.py; this test guards what is imported."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "sqlalchemy",
    "numpy",
    "PIL",
    "pydantic",
    "cryptography",
    "fastapi",
    "torch",
    "copyalign.context",
    "copyalign.services",
    "copyalign.store",
    "copyalign.core.policy",
)


def test_building_the_whole_command_tree_imports_no_heavy_module() -> None:
    code = (
        "import sys, json\n"
        "from typer.main import get_command\n"
        "from copyalign.cli.main import app\n"
        "get_command(app)\n"  # what --help does: every command's parameters resolved
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_version_answers_without_a_database() -> None:
    from copyalign import __version__

    run = subprocess.run([sys.executable, "-m", "copyalign", "--version"], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.strip() == f"copyalign {__version__}"
