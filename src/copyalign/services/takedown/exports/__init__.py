"""The takedown desk's exports: what leaves the desk as files or API calls, built from the core's records.

* :mod:`.sor_export` — statements of reasons to the EU DSA Transparency Database (:class:`DsaClient`), each
  checked with the database's own rules first, every answer returned as a record for the log.
* :mod:`.dsa_stub` — the database's in-memory twin (:class:`DsaStub`), for tests and dry runs.
* :mod:`.report_files` — the transparency report (Implementing Regulation (EU) 2024/2835) as CSV per sheet,
  JSON and an HTML page with charts, staged under ``.partial`` names, with their digests.
* :mod:`.dossier` — the duty-of-care dossier (seed 004 ¶92), every claim linked to the log entries proving it.
* :mod:`.staging` — the crash-safe file protocol the two writers share; :mod:`.public` — the check that keeps
  personal data out of anything published.

Nothing here opens the store: the desk gathers the records and facts, calls these, and seals the returned
digests into the log in its own transaction.
"""

from copyalign.services.takedown.exports.dossier import (
    Claim,
    DossierFacts,
    Factor,
    LogRef,
    claims_from_report,
    render_dossier,
    write_dossier,
)
from copyalign.services.takedown.exports.dsa_stub import DsaStub
from copyalign.services.takedown.exports.report_files import render_transparency_report, write_transparency_report
from copyalign.services.takedown.exports.sor_export import DsaClient, ExportResult, Submission
from copyalign.services.takedown.exports.staging import Staged

__all__ = [
    "Claim",
    "DossierFacts",
    "DsaClient",
    "DsaStub",
    "ExportResult",
    "Factor",
    "LogRef",
    "Staged",
    "Submission",
    "claims_from_report",
    "render_dossier",
    "render_transparency_report",
    "write_dossier",
    "write_transparency_report",
]
