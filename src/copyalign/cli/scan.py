"""``copyalign scan`` and ``copyalign signals fetch``: clean a training corpus; capture sites' opt-out files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from copyalign.cli.common import emit, err, handled, open_ca, operator, out

if TYPE_CHECKING:
    from rich.progress import TaskID

signals_app = typer.Typer(help="Opt-out signals: capture the files sites publish.", no_args_is_help=True)


def scan(
    ctx: typer.Context,
    corpus: Annotated[Path, typer.Argument(help="Corpus folder: JSONL, Parquet, WebDataset tars, text and images.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (kept data, manifest, reports).")],
    engine: Annotated[str, typer.Option(help="local (a process pool) or ray.")] = "local",
    workers: Annotated[int, typer.Option(help="Worker processes (local) or Ray CPUs.")] = 1,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (default: start a local Ray).")] = None,
    dedup: Annotated[bool, typer.Option("--dedup", help="Also drop exact and near duplicates in the corpus.")] = False,
    agent: Annotated[list[str] | None, typer.Option("--agent", help="Your crawler's user-agent token.")] = None,
    developer: Annotated[str | None, typer.Option(help="Developer whose notices license works.")] = None,
    sites: Annotated[Path | None, typer.Option(help="Captured site files (default CORPUS/.copyalign-sites).")] = None,
    text_field: Annotated[str, typer.Option(help="JSONL/Parquet column holding the text.")] = "text",
    provider: Annotated[str | None, typer.Option(help="Provider name for the EU summary.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name for the EU summary.")] = None,
    fetch_signals: Annotated[
        bool,
        typer.Option(
            "--fetch-signals",
            help="First capture the opt-out files of every site with no fresh capture (politely; reused 24 h).",
        ),
    ] = False,
    refresh_signals: Annotated[
        bool, typer.Option("--refresh-signals", help="With --fetch-signals: fetch every site again.")
    ] = False,
    fetch_agent: Annotated[str, typer.Option(help="User-agent the signal fetch names.")] = "copyalign-signals/0.1",
    fetch_delay: Annotated[float, typer.Option(help="Seconds between two requests to one site.")] = 1.0,
    research: Annotated[
        str | None,
        typer.Option(help="Claim the profile's research exception: research or analysis (see policy show)."),
    ] = None,
    condition: Annotated[
        list[str] | None,
        typer.Option("--condition", help="A condition of the research exception you declare (repeat)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: the scan's outcome.")] = False,
) -> None:
    """Drop opted-out, objected and reserved items from a corpus; write the kept data and the provenance.

    A web item whose site's opt-out files were never captured is held (signals:not-captured): run
    'copyalign signals fetch' first, or pass --fetch-signals.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from copyalign.services.scan.sites import SiteFetcher

    with handled(as_json):
        ca = open_ca(ctx)
        actor = operator(ca)
        fetcher = SiteFetcher.over_http(clock=ca.clock, agent=fetch_agent, delay=fetch_delay) if fetch_signals else None
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[records]} items, {task.fields[rate]} items/s"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, disable=as_json, transient=False) as bar:
            tasks: dict[str, TaskID] = {}
            started: dict[str, float] = {}

            def tick(step: str, done: int, total: int, records: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(f"{step:>5}", total=total, records=0, rate="-")
                    started[step] = time.perf_counter()
                spent = time.perf_counter() - started[step]
                rate = f"{records / spent:,.0f}" if spent > 0 and records else "-"
                bar.update(tasks[step], completed=done, total=total, records=f"{records:,}", rate=rate)

            result = ca.scan.scan(
                actor,
                corpus,
                out_dir,
                developer_id=developer,
                engine=engine,
                workers=workers,
                address=address,
                dedup=dedup,
                agents=agent or [],
                sites=sites,
                text_field=text_field,
                provider=provider,
                model=model,
                progress=tick,
                fetch_signals=fetcher,
                refresh_signals=refresh_signals,
                research=(research, condition or []) if research else None,
            )
        if fetcher is not None:
            fetcher.close()
        if as_json:
            emit(result.to_dict())
            return
        d = result.decisions
        out.print(
            f"{result.items} items: keep {d['keep']}, keep-licensed {d['keep-licensed']}, hold {d['hold']}, "
            f"drop {d['drop']}; recorded at log entry {result.log_index}",
            highlight=False,
        )
        for shard, error in result.shard_errors:
            err.print(Text.assemble(("corrupt shard:", "bold yellow"), f" {shard}: {error}"), highlight=False)
        for path, why in result.refused:
            err.print(Text.assemble(("refused:", "bold yellow"), f" {path}: {why}"), highlight=False)
        missing = result.signal_checks.get("not_captured", {})
        if missing.get("items"):
            err.print(
                Text.assemble(
                    ("not captured:", "bold yellow"),
                    f" {missing['items']} web items from {missing['hosts']} sites whose opt-out files were never "
                    "fetched (signals:not-captured); run 'copyalign signals fetch' or pass --fetch-signals",
                ),
                highlight=False,
            )
        out.print(f"manifest {result.out / 'manifest.parquet'} (sha256 {result.manifest_sha256})", highlight=False)
        out.print(f"report   {result.out / 'report.html'}; EU summary {result.out / 'eu-summary.md'}", highlight=False)


@signals_app.command("fetch")
def fetch(
    ctx: typer.Context,
    corpus: Annotated[Path, typer.Argument(help="Corpus folder whose records' URLs name the sites.")],
    sites: Annotated[Path | None, typer.Option(help="Where to store (default CORPUS/.copyalign-sites).")] = None,
    agent: Annotated[str, typer.Option(help="User-agent to fetch with.")] = "copyalign-signals/0.1",
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 10.0,
    delay: Annotated[float, typer.Option(help="Seconds between two requests to one site.")] = 1.0,
    max_age: Annotated[float, typer.Option(help="Hours a capture is reused (RFC 9309 §2.4: 24).")] = 24.0,
    refresh: Annotated[bool, typer.Option("--refresh", help="Fetch every site again, fresh or not.")] = False,
    text_field: Annotated[str, typer.Option(help="JSONL/Parquet column holding the text.")] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per site.")] = False,
) -> None:
    """Fetch robots.txt, tdmrep.json, ai.txt and RSL licences of every site in the corpus, with digests;
    politely (one request at a time, --delay or the site's Crawl-delay between two), reusing fresh captures."""
    from copyalign.services.scan.readers import list_corpus
    from copyalign.services.scan.sites import SiteFetcher, corpus_hosts

    with handled(as_json):
        ca = open_ca(ctx)
        listing = list_corpus(corpus)
        target = sites or corpus / ".copyalign-sites"
        fetcher = SiteFetcher.over_http(
            clock=ca.clock, agent=agent, timeout=timeout, delay=delay, max_age_hours=max_age
        )
        try:
            records = fetcher.capture(
                corpus_hosts(corpus.resolve(), listing, text_field=text_field), target, refresh=refresh
            )
        finally:
            fetcher.close()
        for rec in records:
            if as_json:
                emit(rec)
            elif rec.get("cached"):
                out.print(f"{rec['host']}: captured {rec['age_seconds']} s ago, reused", highlight=False)
            else:
                files = ", ".join(f"{n} {e.get('status', e.get('error'))}" for n, e in rec["files"].items())
                out.print(f"{rec['host']}: {files}", highlight=False)
    _fetch_outcome(records)


def _fetch_outcome(records: list[dict[str, Any]]) -> None:
    """Exit 1 when not one request reached a site (every file of every site recorded an error: no network, a
    proxy, DNS), so that a script does not scan on as if the sites had said nothing; a 404 is an answer."""
    files = [f for rec in records for f in rec.get("files", {}).values()]
    if not records:
        err.print("no site to fetch: no record of the corpus carries an http(s) URL", highlight=False)
        return
    failed = sum(1 for f in files if "error" in f)
    if files and failed == len(files):
        err.print(
            Text.assemble(
                ("error:", "bold red"),
                f" every fetch failed ({failed} requests to {len(records)} sites); the scan will hold these sites' "
                "items. Check the network, then run 'copyalign signals fetch' again",
            ),
            highlight=False,
        )
        raise typer.Exit(1)
    if failed:
        err.print(
            Text.assemble(
                ("warning:", "bold yellow"), f" {failed} of {len(files)} fetches failed; see the errors above"
            ),
            highlight=False,
        )
