"""``copyalign takedown``: the takedown desk at a terminal or from cron, acting as the registry's operator.

Notices, amendments and counter-notices are read from JSON files in the API's shape (``POST
/v1/takedown/notices``); a material may name a local file with ``"path"`` instead of ``content_base64``.
``copyalign takedown due`` is safe to run from cron: it performs the restorations that fell due and lists the
overdue work, and running it twice changes nothing the second time.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from copyalign.cli import takedown_exports
from copyalign.cli.common import emit, handled, open_ca, operator, out
from copyalign.errors import InvalidInputError

if TYPE_CHECKING:
    from copyalign.api.routers.takedown import AmendIn, CounterIn, NoticeIn

app = typer.Typer(
    help="The takedown desk: notices, decisions, measures, counter-notices, complaints.", no_args_is_help=True
)

Json = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", field="file") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path} is not UTF-8 JSON: {exc}", field="file") from exc
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{path} holds a JSON object", field="file")
    for work in raw.get("works") or []:
        for material in work.get("materials") or [] if isinstance(work, dict) else []:
            if isinstance(material, dict) and "path" in material:
                local = (path.parent / str(material.pop("path"))).expanduser()
                try:
                    material["content_base64"] = base64.b64encode(local.read_bytes()).decode("ascii")
                except OSError as exc:
                    raise InvalidInputError(f"cannot read {local}: {exc.strerror}", field="path") from exc
    return raw


def _model(cls: type[NoticeIn] | type[AmendIn] | type[CounterIn], path: Path) -> Any:
    from pydantic import ValidationError

    try:
        return cls.model_validate(_read(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInputError(f"{path}: {field}: {first.get('msg')}", field=field or None) from None


def _show(obj: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        emit(obj)
    else:
        out.print(line, highlight=False)


def _summary(v: dict[str, Any]) -> str:
    missing = ", ".join(m["element"] for m in v.get("missing", []))
    due = v.get("due_at") or "-"
    return f"{v['id']}  {v['status']}  {v['jurisdiction']}  due {due}" + (f"  missing: {missing}" if missing else "")


@app.command("file")
def file_notice(
    ctx: typer.Context, notice: Annotated[Path, typer.Argument(help="The notice, as JSON.")], as_json: Json = False
) -> None:
    """File a notice for a rights holder (name it as principal_id): the operator acts for the holders it represents."""
    from copyalign.api.routers.takedown import NoticeIn

    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.file(operator(ca), _model(NoticeIn, notice).parse()).to_dict()
        _show(v, as_json, _summary(v))


@app.command("complete")
def complete(
    ctx: typer.Context,
    notice_id: str,
    amendment: Annotated[Path, typer.Argument(help="What to add, as JSON.")],
    as_json: Json = False,
) -> None:
    """Complete (amend) an incomplete notice."""
    from copyalign.api.routers.takedown import AmendIn

    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.complete(operator(ca), notice_id, _model(AmendIn, amendment).parse()).to_dict()
        _show(v, as_json, _summary(v))


@app.command("list")
def list_notices(
    ctx: typer.Context,
    provider: Annotated[str | None, typer.Option(help="Only this provider's desk.")] = None,
    status: Annotated[str | None, typer.Option(help="Only notices in this state.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only notices with a deadline passed.")] = False,
    closed: Annotated[bool, typer.Option("--closed", help="Include closed notices.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Json = False,
) -> None:
    """The desk queue: by priority, then the earliest pending deadline."""
    with handled(as_json):
        ca = open_ca(ctx)
        for e in ca.takedown.queue(
            operator(ca), provider_id=provider, status=status, overdue=overdue, open_only=not closed, limit=limit
        ):
            d = e.to_dict()
            flag = "  OVERDUE" if e.overdue else ""
            _show(d, as_json, f"{e.id}  {e.status}  {e.provider_id}  next {e.next_deadline} by {d['due_at']}{flag}")


@app.command("show")
def show(ctx: typer.Context, notice_id: str, as_json: Json = False) -> None:
    """A notice with its items, evidence, decisions, measures, counter-notices, complaints and deadlines."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.notice(operator(ca), notice_id).to_dict()
        if as_json:
            emit(v)
            return
        out.print(_summary(v), highlight=False)
        for d in v["deadlines"]:
            out.print(f"  {d['kind']:<24} {d['status']:<9} due {d['due']}  ({d['source']})", highlight=False)
        for mm in v["measures"]:
            out.print(f"  measure {mm['id']} {mm['kind']:<20} {mm['state']}", highlight=False)


@app.command("triage")
def triage(ctx: typer.Context, notice_id: str, as_json: Json = False) -> None:
    """Gather the evidence and record the recommended course (a person then decides)."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.triage(operator(ca), notice_id).to_dict()
        _show(v, as_json, f"{_summary(v)}  recommendation: {v['recommendation']}")


@app.command("decide")
def decide(
    ctx: typer.Context,
    notice_id: str,
    outcome: Annotated[str, typer.Option(help="upheld, partially_upheld, rejected or manifestly_unfounded")],
    explanation: Annotated[str, typer.Option(help="Why (the statement of reasons quotes it).")],
    ground: Annotated[str, typer.Option(help="law or terms")] = "law",
    legal_ground: Annotated[str | None, typer.Option()] = None,
    measure: Annotated[list[str] | None, typer.Option(help="A measure kind (repeat); default: triage's.")] = None,
    item: Annotated[list[str] | None, typer.Option(help="An item upheld, for a partial decision (repeat).")] = None,
    automated_detection: Annotated[bool, typer.Option("--automated-detection")] = False,
    automated_decision: Annotated[str, typer.Option(help="fully, partially or not")] = "not",
    puid: Annotated[str | None, typer.Option(help="Your own statement id (never reused).")] = None,
    as_json: Json = False,
) -> None:
    """Record a person's decision, with its statement of reasons."""
    from copyalign.services.takedown.inputs import DecisionInput

    with handled(as_json):
        ca = open_ca(ctx)
        d = DecisionInput(
            outcome,
            explanation,
            ground,
            legal_ground,
            automated_detection,
            automated_decision,
            tuple(item) if item else None,
            tuple(measure) if measure else None,
            puid,
        )
        v = ca.takedown.decide(operator(ca), notice_id, d).to_dict()
        _show(v, as_json, f"{_summary(v)}  measures planned: {len(v['measures'])}")


@app.command("measure")
def measure(
    ctx: typer.Context,
    notice_id: str,
    kind: Annotated[list[str] | None, typer.Option(help="Apply only this kind (repeat); default: all planned.")] = None,
    as_json: Json = False,
) -> None:
    """Apply the decision's planned measures, each with its own log entry."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.act(operator(ca), notice_id, kind).to_dict()
        applied = sum(1 for x in v["measures"] if x["state"] == "applied")
        _show(v, as_json, f"{_summary(v)}  measures applied: {applied}")


@app.command("undo")
def undo(
    ctx: typer.Context, measure_id: str, reason: Annotated[str, typer.Option(help="Why.")], as_json: Json = False
) -> None:
    """Undo one measure (its own log entry)."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.undo_measure(operator(ca), measure_id, reason=reason).to_dict()
        _show(v, as_json, f"{v['id']}  {v['kind']}  {v['state']}")


@app.command("counter")
def counter(
    ctx: typer.Context,
    notice_id: str,
    counter_notice: Annotated[Path, typer.Argument(help="As JSON.")],
    as_json: Json = False,
) -> None:
    """File a user's counter-notice (``user``: the provider's id of the session's user)."""
    from copyalign.api.routers.takedown import CounterIn

    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.counter_notice(operator(ca), notice_id, _model(CounterIn, counter_notice).parse()).to_dict()
        missing = ", ".join(m["element"] for m in v["missing"])
        _show(v, as_json, f"{v['id']}  {v['state']}" + (f"  missing: {missing}" if missing else ""))


@app.command("court-action")
def court_action(
    ctx: typer.Context,
    notice_id: str,
    reference: Annotated[str, typer.Option(help="Court and case number.")],
    as_json: Json = False,
) -> None:
    """Record the complainant's court action: the measures stay (17 U.S.C. §512(g)(2)(C))."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.court_action(operator(ca), notice_id, reference).to_dict()
        _show(v, as_json, _summary(v))


@app.command("complain")
def complain(
    ctx: typer.Context,
    notice_id: str,
    by: Annotated[str, typer.Option(help="user or notifier")],
    reason: Annotated[str, typer.Option()],
    user: Annotated[str | None, typer.Option(help="The provider's id of the user (by user).")] = None,
    subject: Annotated[str, typer.Option(help="decision, fee or de_minimis")] = "decision",
    as_json: Json = False,
) -> None:
    """File an internal complaint against a decision (DSA Art. 20)."""
    from copyalign.services.takedown.inputs import ComplaintInput

    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.complain(operator(ca), notice_id, ComplaintInput(by, reason, user, subject)).to_dict()
        _show(v, as_json, f"{v['id']}  {v['state']}  {v['channel']}  due {v['due_at']}")


@app.command("resolve")
def resolve(
    ctx: typer.Context,
    complaint_id: str,
    outcome: Annotated[str, typer.Option(help="upheld, partially_reversed or reversed")],
    explanation: Annotated[str, typer.Option()],
    item: Annotated[list[str] | None, typer.Option(help="An item upheld, for a notifier's partial reversal.")] = None,
    as_json: Json = False,
) -> None:
    """Decide a complaint (a person decides; never solely automated means)."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.resolve_complaint(
            operator(ca), complaint_id, outcome=outcome, explanation=explanation, items=item
        ).to_dict()
        _show(v, as_json, f"{v['id']}  {v['state']}")


@app.command("authorise")
def authorise(
    ctx: typer.Context,
    agent: Annotated[str, typer.Option(help="The agent's party id.")],
    holder: Annotated[str, typer.Option(help="The rights holder's party id.")],
    document: Annotated[str, typer.Option(help="The authorisation document referred to.")],
    work: Annotated[list[str] | None, typer.Option(help="Limit to this work (repeat).")] = None,
    as_json: Json = False,
) -> None:
    """Record an agent's authority to file notices for a rights holder."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.authorise(
            operator(ca), agent_id=agent, holder_id=holder, document=document, work_ids=work or ()
        )
        _show(v.to_dict(), as_json, f"{v.id}  {v.agent_id} for {v.holder_id}")


@app.command("due")
def due(
    ctx: typer.Context,
    provider: Annotated[str | None, typer.Option(help="Only this provider's desk.")] = None,
    as_json: Json = False,
) -> None:
    """Perform the restorations that fell due and list the overdue work (cron-safe, idempotent)."""
    with handled(as_json):
        ca = open_ca(ctx)
        report = ca.takedown.due(operator(ca), provider_id=provider)
        if as_json:
            emit(report.to_dict())
            return
        out.print(f"restored {len(report.restored)} notice(s), {len(report.overdue)} overdue", highlight=False)
        for e in report.overdue:
            out.print(
                f"  OVERDUE {e.id}  {e.next_deadline} by {e.due_at.isoformat() if e.due_at else '-'}", highlight=False
            )


@app.command("standing")
def standing(
    ctx: typer.Context,
    provider: Annotated[str, typer.Option(help="The provider's party id.")],
    user_ref: Annotated[str, typer.Option(help="The user's pseudonym (as traces show it).")],
    as_json: Json = False,
) -> None:
    """A user's strikes and sanction under the graduated response."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.takedown.standing(operator(ca), user_ref=user_ref, provider_id=provider).to_dict()
        _show(v, as_json, f"{v['user']}  {v['sanction']}  {v['active_strikes']} active strike(s)")


@app.command("statements")
def statements(
    ctx: typer.Context,
    provider: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Json = False,
) -> None:
    """Statements of reasons in the DSA Transparency Database's schema."""
    with handled(as_json):
        ca = open_ca(ctx)
        for st in ca.takedown.statements(provider_id=provider, limit=limit):
            _show(st, as_json, f"{st['puid']}  {st['decision_ground']}  {st['application_date']}")


app.command("export-statements")(takedown_exports.export_statements)
app.command("report")(takedown_exports.report)
app.command("dossier")(takedown_exports.dossier)
