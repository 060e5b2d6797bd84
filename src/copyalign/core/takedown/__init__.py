"""The takedown desk's pure core: notices, clocks, triage, strikes, statements of reasons and reports.

Seed 004 ¶84-92 describes the deployment half of a generative-AI provider's duty of care: a channel for
notices, necessary measures in time, a counter-notice and review procedure, and a graduated response to
repeat infringers; seed 003 §4.3-4.4 gives the numbers. This package holds the rules of that procedure as
pure functions and objects that cannot be built invalid, so that the service layer (store, log, HTTP, portal)
only loads, calls and writes. Nothing here does I/O.

* :mod:`.calendar` — business-day calendars and DST-safe legal periods.
* :mod:`.clocks` — per-jurisdiction deadline presets and the deadlines of one notice.
* :mod:`.elements` — the notice, its material, and the elements each jurisdiction requires.
* :mod:`.counter` — the counter-notice and its elements.
* :mod:`.states` — state machines of notices, measures, counter-notices and complaints.
* :mod:`.triage` — the recommended measure from the evidence.
* :mod:`.strikes` — graduated response to users; standing of complainants (DSA Art. 23).
* :mod:`.sor`, :mod:`.sor_rules`, :mod:`.sor_vocab` — statements of reasons for the DSA Transparency
  Database: the typed statement and batches, the database's validation rules, its vocabulary.
* :mod:`.report` — the quantities of the EU harmonised transparency report templates.
* :mod:`.profile` — the ``[takedown]`` section of a policy profile, which builds the objects above.

Every instant these modules keep or return is in UTC; show it in a calendar's zone with
:meth:`.calendar.BusinessCalendar.local`.
"""
