"""The notice board, a notice's page with its object buttons, statements and invoices, through the
in-process client, on both databases."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from copyalign.services.licensing.notices import NoticeInput
from copyalign.services.licensing.royalties import UsageInput
from copyalign.services.registry.works import WorkInput
from tests.conftest import make_party
from tests.integration.test_portal_pages import signin


def test_a_holder_objects_from_the_notice_page_and_reads_its_statement(
    client: TestClient, ca: Copyalign, clock: FakeClock, op_key: str
) -> None:
    op = ca.parties.authenticate(op_key)
    holder, holder_key = make_party(ca, op, "rights_holder", "Ada Author")
    other, _ = make_party(ca, op, "rights_holder", "Other Holder")
    dev, dev_key = make_party(ca, op, "developer", "Model Lab")
    mine = [
        ca.works.register(holder, WorkInput(data=f"Ada's essay {i}".encode(), title=f"Essay {i}")).id for i in range(2)
    ]
    theirs = ca.works.register(other, WorkInput(data=b"someone else's essay", title="Theirs")).id
    nid = ca.notices.create(dev, NoticeInput("Lab-1", "train-ai", "commercial", "default", [*mine, theirs])).id
    r = client.get(f"/notices/{nid}")
    assert r.status_code == 404  # a draft is not public
    ca.notices.publish(dev, nid)

    board = client.get("/notices")
    assert board.status_code == 200 and f'href="/notices/{nid}"' in board.text and "Model Lab" in board.text
    anonymous = client.get(f"/notices/{nid}")
    assert "Sign in" in anonymous.text and 'name="work_id"' not in anonymous.text

    signin(client, holder_key)
    page = client.get(f"/notices/{nid}").text
    assert page.count('name="work_id"') == 2 and theirs not in page  # only Ada's works, each with a button
    r = client.post(f"/notices/{nid}/object", data={"work_id": mine[0], "reason": "no"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/notices/{nid}"
    page = client.get(f"/notices/{nid}").text
    assert page.count('name="work_id"') == 1 and "objected" in page and "Withdraw" in page
    r = client.post(f"/notices/{nid}/object", data={"work_id": theirs}, headers={"Accept": "text/html"})
    assert r.status_code == 403  # not Ada's work
    assert f'href="/notices/{nid}"' in client.get("/my/notices").text

    clock.advance(days=31)
    ca.notices.finalise(op, nid)
    page = client.get(f"/notices/{nid}").text
    assert "licensed" in page and "excluded (objected)" in page and "format=jsonl" in page
    now = clock.now()
    inv = ca.licensing.report_usage(
        dev,
        nid,
        UsageInput("1000.00", "CNY", now - timedelta(days=30), now, "0", lines=[(mine[1], "3"), (theirs, "1")]),
    )["invoice"]
    ca.licensing.record_payment(op, inv["id"], amount=inv["amount"], currency="CNY")
    ca.licensing.distribute(op, "CNY")
    st = client.get("/statements")
    # 30.00 fee, 27.00 after the CMO's 10 %, three quarters to Ada
    assert st.status_code == 200 and "20.25 CNY" in st.text and "Essay 1" in st.text
    csv_text = client.get("/statements.csv").text
    assert csv_text.splitlines()[0].startswith("distribution_id") and "20.25" in csv_text

    client.cookies.clear()
    signin_dev = client.post("/signin", data={"api_key": dev_key}, follow_redirects=False)
    assert signin_dev.status_code == 303 and signin_dev.headers["location"] == "/my/notices"
    invoices = client.get("/invoices")
    assert invoices.status_code == 200 and inv["id"] in invoices.text and "paid" in invoices.text
    assert "Lab-1" in client.get("/my/notices").text
