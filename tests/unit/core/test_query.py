"""The query's count of tokens that are not a CJK character, which decides how many shared fingerprints the
engine asks of a Chinese query before it verifies a work: it may overestimate, never underestimate."""

from __future__ import annotations

from hypothesis import given, settings

from copyalign.core.matching.query import TextQuery
from copyalign.core.text import CJK, CJK_WEIGHT
from tests.unit.core.unicode_text import unicode_texts


def _other_tokens(text: str, q: TextQuery) -> int:
    """Counted one token at a time with the regex (the query counts with a code-point table)."""
    spans = zip(q.fp.starts.tolist(), q.fp.ends.tolist(), strict=True)
    return sum(1 for a, b in spans if not CJK.fullmatch(text[a:b]))


@settings(deadline=None)  # the first example loads the kernels
@given(unicode_texts(120))
def test_other_tokens_is_never_below_the_tokens_that_are_not_a_cjk_character(text: str) -> None:
    q = TextQuery.of(text, text.encode("utf-8", "surrogatepass"))
    assert q.other_tokens >= _other_tokens(text, q)
    assert q.other_tokens <= q.fp.size


def test_a_query_is_weighted_as_chinese_only_when_no_passage_can_count_its_tokens_once() -> None:
    chinese = "床前明月光疑是地上霜举头望明月低头思故乡" * 5
    english = "the quick brown fox jumps over the lazy dog and runs far away " * 3
    assert TextQuery.of(chinese, chinese.encode()).passage_weight(20) == CJK_WEIGHT
    assert TextQuery.of(english, english.encode()).passage_weight(20) == 1
    nine_words = " ".join(english.split()[:9])  # 9 other tokens: no passage of 20 can be half of them
    mixed = chinese + nine_words
    assert TextQuery.of(mixed, mixed.encode()).passage_weight(20) == CJK_WEIGHT
    ten_words = " ".join(english.split()[:10])
    mixed = chinese[:30] + ten_words + chinese[30:]
    assert TextQuery.of(mixed, mixed.encode()).passage_weight(20) == 1
