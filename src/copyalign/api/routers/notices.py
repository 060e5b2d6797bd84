"""/v1/notices, /v1/objections, /v1/invoices, /v1/distributions, /v1/statements, /v1/notifications, /v1/reports:
the training-notice procedure and the default licence's money.

The notice board (``GET /v1/notices``), a published notice and its exclusion lists are public: the seeds'
procedure depends on anyone being able to read them. Everything else needs a key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import PlainTextResponse, Response
from pydantic import AwareDatetime, Field, TypeAdapter, ValidationError

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.schemas import INT64_MAX, Input, choice
from copyalign.core.licensing import notices as rules
from copyalign.core.licensing.notices import NoticeInput
from copyalign.core.licensing.tariffs import Use
from copyalign.core.registry.preferences import JURISDICTIONS
from copyalign.errors import InvalidInputError
from copyalign.services.licensing.measured import ScanManifest
from copyalign.services.licensing.royalties import UsageInput

router = APIRouter(tags=["notices"])


class NoticeCreate(Input):
    title: str = Field(
        min_length=1, max_length=rules.MAX_TITLE_CHARS, description="The model or data set the works would train."
    )
    purpose: str = choice(rules.NOTICE_PURPOSES, description="What the works would train.")
    use: str = choice(
        Use,
        default="commercial",
        description="commercial, non-profit, or research / analysis under the profile's research exception",
    )
    tariff: str = Field(default="default", description="A tariff of the policy profile.")
    works: list[str] = Field(min_length=1, max_length=rules.MAX_NOTICE_WORKS)
    window_days: int | None = Field(default=None, ge=1, le=rules.MAX_WINDOW_DAYS)
    jurisdiction: str | None = choice(sorted(JURISDICTIONS), nullable=True, default=None)
    conditions: list[str] = Field(
        default_factory=list, max_length=20, description="A research or analysis use: the conditions declared."
    )


class ObjectionCreate(Input):
    works: list[str] | None = Field(default=None, description="The works objected to; omitted: all of yours.")
    reason: str = Field(default="", max_length=rules.MAX_REASON_CHARS)


class UsageLineIn(Input):
    work_id: str
    measure: str = Field(description="A non-negative decimal, in the report's unit.")


class UsageCreate(Input):
    revenue: str = Field(description="Revenue basis, a decimal string in the notice's currency.")
    currency: str
    period_start: AwareDatetime
    period_end: AwareDatetime
    feature_share: str | None = Field(
        default=None,
        description=(
            "Share of data features used, 0 to 1, declared. Omitted: 1 (all), since nothing was measured; report "
            "from a scan (POST …/reports/from-scan) to have it measured."
        ),
    )
    unit: str = "tokens"
    lines: list[UsageLineIn] = Field(default_factory=list, max_length=1_000_000)
    supersedes: str | None = None


class PaymentCreate(Input):
    amount: str
    currency: str
    reference: str = Field(default="", max_length=200)


class DistributionCreate(Input):
    currency: str


# -- notices ----------------------------------------------------------------------------------------------


@router.post("/notices", status_code=201)
def create_notice(body: NoticeCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    inp = NoticeInput(
        body.title, body.purpose, body.use, body.tariff, body.works, body.window_days, body.jurisdiction,
        body.conditions,
    )  # fmt: skip
    return ca.notices.create(principal, inp).to_dict()


@router.get("/notices")
def notice_board(ca: CaDep, status: Literal["open", "finalised"] = "open") -> dict[str, Any]:
    return {"notices": [n.to_dict() for n in ca.notices.board(status)]}


@router.get("/notices/mine")
def my_notices(ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"notices": [n.to_dict() for n in ca.notices.mine(principal)]}


@router.post("/notices/close-due")
def close_due(ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"finalised": ca.notices.close_due(principal)}


@router.get("/notices/{notice_id}")
def get_notice(notice_id: str, ca: CaDep) -> dict[str, Any]:
    return ca.notices.get(None, notice_id).to_dict()


@router.get("/notices/{notice_id}/works")
def notice_works(notice_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"works": ca.notices.works(principal, notice_id)}


@router.post("/notices/{notice_id}/publish")
def publish_notice(notice_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.notices.publish(principal, notice_id).to_dict()


@router.post("/notices/{notice_id}/finalise")
def finalise_notice(notice_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.notices.finalise(principal, notice_id).to_dict()


@router.post("/notices/{notice_id}/objections", status_code=201)
def object_to(notice_id: str, body: ObjectionCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    objs = ca.notices.object(principal, notice_id, body.works, body.reason)
    return {"objections": [o.to_dict() for o in objs]}


@router.get("/notices/{notice_id}/objections")
def list_objections(notice_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"objections": [o.to_dict() for o in ca.notices.objections(principal, notice_id)]}


@router.delete("/objections/{objection_id}")
def withdraw_objection(objection_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.notices.withdraw(principal, objection_id).to_dict()


@router.get(
    "/notices/{notice_id}/exclusions",
    response_model=None,
    responses={
        200: {
            "description": "The exclusion lists: JSON (format json or filter) or JSON Lines (format jsonl).",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/jsonl": {"schema": {"type": "string"}},
            },
        }
    },
)
def exclusions(
    notice_id: str,
    ca: CaDep,
    version: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    format: Literal["json", "jsonl", "filter"] = "json",  # noqa: A002
) -> dict[str, Any] | Response:
    lists = ca.notices.exclusions(notice_id, version)
    if format == "jsonl":
        return PlainTextResponse(lists.jsonl(), media_type="application/jsonl")
    if format == "filter":
        return lists.filter_file()
    return {
        "notice_id": lists.notice_id,
        "version": lists.version,
        "sha256": lists.sha256,
        "log_index": lists.log_index,
        "excluded": lists.excluded,
        "licensed": lists.licensed,
    }


# -- usage, invoices, payments, distributions, statements -------------------------------------------------


@router.post("/notices/{notice_id}/reports", status_code=201)
def report_usage(notice_id: str, body: UsageCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    inp = UsageInput(
        revenue=body.revenue,
        currency=body.currency,
        period_start=body.period_start,
        period_end=body.period_end,
        feature_share=body.feature_share,
        unit=body.unit,
        lines=[(line.work_id, line.measure) for line in body.lines],
        supersedes=body.supersedes,
    )
    return ca.licensing.report_usage(principal, notice_id, inp)


_WHEN = TypeAdapter(AwareDatetime)


def _when(raw: str, name: str) -> Any:
    try:
        return _WHEN.validate_python(raw)
    except ValidationError:
        raise InvalidInputError(f"{name} must be a date-time with a time zone, not {raw[:40]!r}", field=name) from None


@router.post("/notices/{notice_id}/reports/from-scan", status_code=201)
def report_from_scan(
    notice_id: str,
    ca: CaDep,
    principal: PrincipalDep,
    manifest: Annotated[UploadFile, File(description="The scan's manifest.parquet, as its log entry commits to.")],
    scan_log_index: Annotated[
        int, Form(ge=0, le=INT64_MAX, description="The scan's log entry (scan.json: log_index).")
    ],
    # non-empty in the schema too: a form field sent empty is, to FastAPI, a field not sent
    revenue: Annotated[str, Form(min_length=1, max_length=40)],
    currency: Annotated[str, Form(min_length=1, max_length=10)],
    period_start: Annotated[str, Form(min_length=1, max_length=64)],
    period_end: Annotated[str, Form(min_length=1, max_length=64)],
    feature_share: Annotated[str | None, Form(description="Declared share; refused below the measured.")] = None,
    unit: Annotated[str | None, Form(description="tokens, documents, images or bytes (default: as found).")] = None,
    supersedes: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    """A usage report measured from a logged scan: per-work lines and the share of data features come from the
    manifest, which must be the one the scan's log entry commits to."""
    limit = ca.settings.max_upload_bytes * 32  # a manifest is a row per corpus item
    data = manifest.file.read(limit + 1)
    if len(data) > limit:
        raise InvalidInputError(f"the manifest is over {limit} bytes", field="manifest")
    inp = UsageInput(
        revenue=revenue,
        currency=currency,
        period_start=_when(period_start, "period_start"),
        period_end=_when(period_end, "period_end"),
        feature_share=feature_share,
        unit=unit,
        supersedes=supersedes,
    )
    return ca.licensing.report_from_scan(principal, notice_id, ScanManifest(scan_log_index, data), inp)


@router.get("/reports/due")
def reports_due(ca: CaDep, principal: PrincipalDep, overdue: bool = False) -> dict[str, Any]:
    """The next usage report each licence owes (a developer's own; every one for the operator and auditor)."""
    return {"reports": ca.reporting.due(principal, overdue_only=overdue)}


@router.post("/reports/remind")
def remind(ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Queue reminders of overdue usage reports (the server's tick does it too)."""
    return {"reminders": ca.reporting.remind(principal)}


@router.get("/invoices")
def invoices(
    ca: CaDep,
    principal: PrincipalDep,
    status: str | None = None,
    procedure: Literal["standard", "simplified"] | None = None,
) -> dict[str, Any]:
    """Invoices; ``procedure=simplified`` is the de-minimis queue for the simplified procedure."""
    return {"invoices": ca.licensing.invoices(principal, status=status, procedure=procedure)}


@router.get("/invoices/{invoice_id}")
def invoice(invoice_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.licensing.invoice(principal, invoice_id)


@router.post("/invoices/{invoice_id}/payments", status_code=201)
def pay(invoice_id: str, body: PaymentCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.licensing.record_payment(
        principal, invoice_id, amount=body.amount, currency=body.currency, reference=body.reference
    )


@router.post("/distributions", status_code=201)
def run_distribution(body: DistributionCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.licensing.distribute(principal, body.currency)


@router.get(
    "/statements",
    response_model=None,
    responses={
        200: {
            "description": "A royalty statement: JSON, or CSV with format=csv.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
def statements(
    ca: CaDep,
    principal: PrincipalDep,
    holder_id: str | None = None,
    distribution_id: str | None = None,
    format: Literal["json", "csv"] = "json",  # noqa: A002
) -> dict[str, Any] | Response:
    st = ca.licensing.statement(principal, holder_id, distribution_id)
    if format == "csv":
        return PlainTextResponse(ca.licensing.statement_csv(st), media_type="text/csv")
    return st


@router.get("/notifications")
def notifications(ca: CaDep, principal: PrincipalDep, unsent: bool = False) -> dict[str, Any]:
    return {"notifications": ca.notices.notifications(principal, unsent_only=unsent)}
