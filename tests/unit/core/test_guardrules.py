"""The output filter's rules: evidence to allow, warn or block (seed 004 ¶74-75; seed 003 §4.3)."""

from __future__ import annotations

import doctest

from copyalign.core.guard import rules as guardrules
from copyalign.core.guard.rules import GuardAction, OutputHit, OutputRules, covered_chars, judge_output


def passage(ref: str, *spans: tuple[int, int]) -> OutputHit:
    return OutputHit(ref, "passage", 0.1, f"title {ref}", spans)


def test_a_short_output_copied_whole_blocks_by_its_share() -> None:
    """Seed 003 §4.3: outputs with over 15 % protected features are restricted. Issue 19: a 135-character
    output copied entirely from a registered work was delivered, the 150-character floor being absolute."""
    decision, reasons = judge_output([passage("w1", (0, 135))], OutputRules(), output_chars=135)
    assert decision is GuardAction.BLOCK
    assert reasons[0].rule == "output.copied_share"
    assert reasons[0].evidence["chars"] == 135 and reasons[0].evidence["copied_share"] == 1.0


def test_a_short_quotation_in_a_long_output_warns() -> None:
    decision, reasons = judge_output([passage("w1", (500, 620))], OutputRules(), output_chars=1000)
    assert decision is GuardAction.WARN and reasons[0].rule == "output.short_passage"
    assert reasons[0].evidence["copied_share"] == 0.12


def test_the_share_is_that_of_every_work_together_and_counts_from_min_copied_chars() -> None:
    hits = [passage("w1", (0, 100)), passage("w2", (300, 400))]  # 10 % each, 20 % of the output together
    decision, reasons = judge_output(hits, OutputRules(), output_chars=1000)
    assert decision is GuardAction.BLOCK and {r.rule for r in reasons} == {"output.copied_share"}
    title = [passage("w1", (10, 38))]  # 28 characters: a quoted title, not a copy, whatever its share
    assert judge_output(title, OutputRules(), output_chars=60)[0] is GuardAction.WARN
    assert judge_output(title, OutputRules(min_copied_chars=20), output_chars=60)[0] is GuardAction.BLOCK
    assert judge_output(hits, OutputRules(max_copied_share=0.25), output_chars=1000)[0] is GuardAction.WARN


def test_without_a_length_only_the_absolute_floor_applies() -> None:
    assert judge_output([passage("w1", (0, 135))], OutputRules())[0] is GuardAction.WARN
    assert judge_output([passage("w1", (0, 150))], OutputRules())[0] is GuardAction.BLOCK
    assert judge_output([passage("w1", (0, 150))], OutputRules(), output_chars=150)[1][0].rule == "output.passage"


def test_copies_block_and_overlapping_spans_count_once() -> None:
    assert covered_chars([(0, 10), (5, 20), (30, 40)]) == 30
    decision, reasons = judge_output([OutputHit("w1", "exact", 1.0)], OutputRules(), output_chars=10)
    assert decision is GuardAction.BLOCK and reasons[0].rule == "output.exact"


def test_rules_come_from_the_profile() -> None:
    from copyalign.policy import load_policy

    rules = OutputRules.from_profile(load_policy("cn").guard)
    assert (rules.min_passage_chars, rules.max_copied_share, rules.min_copied_chars) == (150, 0.15, 40)


def test_module_examples() -> None:
    assert doctest.testmod(guardrules).failed == 0
