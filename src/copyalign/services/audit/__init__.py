"""Memorisation audits of trained language models (issue 8; seed 004 ¶57-59, ¶94).

A developer must be able to show that its model does not regurgitate protected works, and that the measures
it takes suppress what it does regurgitate. The modules here turn the research methods into an audit:

* :mod:`.model` — loading a local HuggingFace causal LM and its tokenizer, greedy decoding, log-probabilities;
* :mod:`.probes` — extraction probes over sliding windows of registered works (greedy and probabilistic);
* :mod:`.canaries` — random canaries to plant in training data, and their exposure afterwards;
* :mod:`.membership` — loss, zlib, Min-K% and Min-K%++ membership scores beside a model-free baseline;
* :mod:`.blocker` — a MemFree-style logits processor refusing n-grams of works whose owners deny the use;
* :mod:`.wordblock` — the same over the normalised words of the decoded text, which a change of case, spacing
  or tokenisation does not get around;
* :mod:`.takedown` — probes before and after a measure, with style-transfer probes and non-member controls;
* :mod:`.selection` — which works to probe (``--works``), and non-member texts;
* :mod:`.report` — the JSON and HTML report; :mod:`.regress` — the regression gate against a baseline;
* :mod:`.tinylm` — a tiny GPT-2 trained from scratch in seconds, for tests and benchmarks.

The arithmetic that needs no model lives in :mod:`copyalign.core.audit.memorisation`. Everything that needs torch
or transformers (the ``ml`` extra) imports them inside the function that uses them, so importing this
package costs nothing and a missing extra is reported as :class:`~copyalign.errors.MissingExtraError`.
"""
