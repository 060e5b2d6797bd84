"""Decoding-time blocking of normalised words: MemFree that case, spacing and tokenisation do not get around.

The token-level :class:`~copyalign.services.audit.blocker.MemFree` refuses to complete an n-gram of a protected work
*in the model's tokens*. The same words in capitals, with double spaces or split into other tokens are other
tokens, and pass (Ippolito et al. 2023; the ``upper`` and ``spacing`` probes of
:mod:`~copyalign.services.audit.suppression`). Here the text a candidate token would add is decoded, and the
words of the continuation, *in the matching engine's sense*
(:func:`copyalign.core.matching.textfp.tokenize`: NFKC, case-folded, split on whitespace and punctuation, one word
per CJK character), are checked: a candidate that would
complete ``n`` consecutive words of a protected work is refused. It works with any HuggingFace tokenizer
(it only decodes), and its blocklist does not depend on the model: it is built from the works' texts.

The n-grams are hashed as the token-level ones are (:func:`~copyalign.services.audit.blocker.window_hashes` over the
matching engine's 64-bit word hashes, ``textfp.mix64``), in an exact set (sorted keys of the n-grams and of
their ``n - 1``-word prefixes, at most 16 bytes per n-gram) or the same Bloom filters.

Example:
    >>> words = WordBlocklist.build(["It was the best of times, it was the worst of times."], n=4)
    >>> words.completes("IT  WAS THE", "  best"), words.completes("it was the", " age")
    (True, False)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from copyalign.core.matching import textfp
from copyalign.errors import InvalidInputError
from copyalign.services.audit.blocker import _BloomStore, _ngram_keys, window_hashes

U64 = npt.NDArray[np.uint64]


class _KeySet:
    """Sorted 64-bit keys of whole n-grams and of their prefixes: exact, at most 16 bytes per n-gram."""

    def __init__(self, prefixes: U64, nexts: U64) -> None:
        self.keys = np.unique(_ngram_keys(prefixes, nexts))
        self.prefixes = np.unique(prefixes)
        self.count = int(self.keys.size)
        self.nbytes = int(self.keys.nbytes + self.prefixes.nbytes)

    @staticmethod
    def _member(sorted_keys: U64, keys: U64) -> npt.NDArray[np.bool_]:
        at = np.minimum(np.searchsorted(sorted_keys, keys), max(sorted_keys.size - 1, 0))
        out: npt.NDArray[np.bool_] = sorted_keys[at] == keys if sorted_keys.size else np.zeros(keys.size, bool)
        return out

    def known(self, h: U64) -> npt.NDArray[np.bool_]:
        return self._member(self.prefixes, h)

    def has(self, h: U64, nxt: U64) -> npt.NDArray[np.bool_]:
        return self._member(self.keys, _ngram_keys(h, nxt))


def word_hashes(words: Sequence[str]) -> U64:
    """The matching engine's 64-bit hash of each word (:func:`copyalign.core.matching.textfp.hash_tokens`)."""
    return textfp.hash_tokens(list(words))


class WordBlocklist:
    """The word n-grams a generation must not complete, words as the matching engine reads them (NFKC,
    case-folded, split on whitespace and punctuation, one word per CJK character). Build with :meth:`build`;
    it does not depend on any model's tokenizer."""

    def __init__(self, n: int, kind: str, store: _KeySet | _BloomStore) -> None:
        self.n, self.kind, self._store = n, kind, store

    @property
    def ngrams(self) -> int:
        return self._store.count

    @property
    def nbytes(self) -> int:
        return self._store.nbytes

    @classmethod
    def build(cls, texts: Iterable[str], *, n: int = 8, kind: str = "set", bits: int = 16) -> WordBlocklist:
        """Every ``n``-word n-gram of every text (a protected work), through the matching engine's
        fingerprint, so that a word here is a word there."""
        if n < 2:
            raise InvalidInputError("a blocked n-gram needs at least two words", field="n")
        if kind not in ("set", "bloom"):
            raise InvalidInputError(f"unknown blocklist kind {kind!r}: set or bloom", field="kind")
        prefixes: list[U64] = [np.empty(0, dtype=np.uint64)]
        nexts: list[U64] = [np.empty(0, dtype=np.uint64)]
        for text in texts:
            words = textfp.text_fingerprint(text).token_hashes
            if words.size >= n:
                prefixes.append(window_hashes(np.lib.stride_tricks.sliding_window_view(words[:-1], n - 1)))
                nexts.append(words[n - 1 :])
        pre, nxt = np.concatenate(prefixes), np.concatenate(nexts)
        store = _KeySet(pre, nxt) if kind == "set" else _BloomStore(pre, nxt, bits)
        return cls(n, kind, store)

    def known_prefixes(self, windows: U64) -> npt.NDArray[np.bool_]:
        """For each row of ``n - 1`` word hashes: does some protected n-gram start with these words?"""
        if windows.shape[0] == 0 or self.ngrams == 0:
            return np.zeros(windows.shape[0], dtype=bool)
        return self._store.known(window_hashes(windows))

    def contains(self, windows: U64) -> npt.NDArray[np.bool_]:
        """For each row of ``n`` word hashes: is it a protected n-gram?"""
        if windows.shape[0] == 0 or self.ngrams == 0:
            return np.zeros(windows.shape[0], dtype=bool)
        return self._store.has(window_hashes(windows[:, :-1]), np.ascontiguousarray(windows[:, -1]))

    def completes(self, before: str, added: str) -> bool:
        """The rule :class:`WordMemFree` applies, on whole texts: does appending ``added`` to ``before``
        change or add a word that ends a protected n-gram? Words ``before`` already had, unchanged, never
        count (a prompt that quotes a work is not the model reproducing it); the last word counts as it
        stands, even if more letters could follow (``"fox"`` is refused before it is known whether
        ``"foxes"`` was meant)."""
        old, new = textfp.tokenize(before)[0], textfp.tokenize(before + added)[0]
        same = 0
        while same < min(len(old), len(new)) and old[same] == new[same]:
            same += 1
        start = max(same, self.n - 1)
        if start >= len(new):
            return False
        hashes = word_hashes(new)
        windows = np.lib.stride_tricks.sliding_window_view(hashes, self.n)[start - self.n + 1 :]
        return bool(self.contains(np.ascontiguousarray(windows)).any())


# A word followed by this is still open: punctuation could glue the next word onto it ("e.g", "don't"), and so
# could a hyphen at a line break ("compli-\ncated"), as in textfp.tokenize. Anything else closes it.
_OPEN_AFTER = re.compile(r"(?:[^\s\w]|_)*|[-\u2010][ \t]*(?:\r|\r?\n[ \t]*)?")
_DECODE_CONTEXT = 4  # tokens kept before the new one when decoding it (SentencePiece's leading space)
_UNKNOWN, _MANY = -1, 2  # a token's words: not yet decoded; two or more, or its text depends on the context


@dataclass(frozen=True, slots=True)
class _Tail:
    """What :class:`WordMemFree` keeps of one sequence: its last ``n - 1`` closed words, the text from the
    start of its last word (the only one that can still change), and the tokens that end in part of a
    character (split over tokens: its bytes are not text yet)."""

    closed: tuple[str, ...]
    text: str
    words: tuple[str, ...]  # the words of ``text``: one, or none before the first word or after a closed one
    hyphen: bool  # a hyphen follows the open word: a line break then a word would glue onto it
    context: tuple[int, ...]  # the last tokens wholly turned into text, to decode the next ones against
    pending: tuple[int, ...] = ()
    shown: int = 0  # characters of the pending tokens' text already in ``text`` (the whole ones before the split)

    @property
    def odd(self) -> bool:
        """Neither shortcut applies: bytes pending, or an open word that NFKC split in several ("½")."""
        return bool(self.pending) or len(self.words) > 1


class WordMemFree:
    """A ``transformers`` logits processor that refuses to complete ``n`` consecutive words of a protected
    work, whatever their case, spacing, punctuation or tokenisation. Use it as the token-level
    :class:`~copyalign.services.audit.blocker.MemFree` is used:
    ``logits_processor=LogitsProcessorList([WordMemFree(WordBlocklist.build(texts), tokenizer)])``.

    The rule (:meth:`WordBlocklist.completes`): a candidate token is refused if, with its text appended, a
    word that changed or is new ends ``n`` consecutive words of a protected work. The last word counts as it
    stands: ``"fox"`` is refused before it is known whether ``"foxes"`` was meant, which refuses a little
    more than needed only where ``n - 1`` protected words were just written.

    Only candidates that can be chosen are checked: the ``top_k`` highest-scoring tokens of each row (the
    ones a top-k sampler, transformers' default ``top_k=50``, or greedy decoding can pick). Every token
    outside them gets ``-inf``, so that nothing unchecked can ever be chosen; when all ``top_k`` are refused,
    the next ``top_k`` are checked. Greedy decoding is unchanged wherever nothing is refused.

    It stays cheap by doing per token what is cheap:

    * each sequence's tail (last closed words, open word, undecoded bytes) is cached between steps, keyed by
      the sequence's token ids (beam search reorders rows: the content, not the row, is the key), and moved
      on by the one new token;
    * each token's text is decoded once, against two different tokens before it to make sure it does not
      depend on them (a token that does, or that holds part of a character, is decoded in context), and its
      words are counted once;
    * a token without words (spaces, punctuation) changes no word and is never refused; a token of one word
      can only complete a protected n-gram if the words before the one it changes are the first ``n - 1`` of
      one, so the two possible prefixes of each row (the open word extended, or a new word) are looked up
      first, for all rows in one numpy call. Where a prefix is known, a token that surely starts a new word
      (a leading space, or no open word) is looked up with its word; the others are decoded in context and
      their words checked, as are tokens of two words or more. Words are hashed in one batch per step.

    ``blocked`` counts the refused tokens that had the highest score, ``masked`` every refused token, and
    ``checked`` the candidates decoded in context.
    """

    def __init__(self, blocklist: WordBlocklist, tokenizer: Any, *, top_k: int = 50) -> None:
        if top_k < 1:
            raise InvalidInputError("top_k must be at least 1", field="top_k")
        self.blocklist, self.tokenizer, self.top_k = blocklist, tokenizer, top_k
        self.blocked = self.masked = self.checked = 0
        self._size = len(tokenizer)
        self._nwords = np.full(self._size, _UNKNOWN, dtype=np.int8)  # grown to the scores' width
        self._space = np.zeros(self._size, dtype=bool)  # the token's text starts with a space
        self._texts: dict[int, tuple[str, tuple[str, ...]]] = {}  # context-free text, and its words
        self._hash: dict[str, int] = {}
        self._known: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[bool, bool]] = {}
        self._tails: dict[bytes, _Tail] = {}
        anchors = [t for t in (self._encode("a"), self._encode(".")) if t]
        self._anchors = [(a[-1:], self._decode(a[-1:])) for a in anchors]

    # -- text --------------------------------------------------------------------------------------------

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False))

    def _learn(self, tokens: npt.NDArray[np.int64], live: npt.NDArray[np.bool_]) -> None:
        """Each live token's context-free text, its words and whether it starts with a space. A token beyond
        the tokenizer (the embedding matrix is often padded) has no text."""
        if int(tokens.max(initial=0)) >= self._nwords.size:
            grow = int(tokens.max()) + 1 - self._nwords.size
            self._nwords = np.concatenate([self._nwords, np.zeros(grow, dtype=np.int8)])
            self._space = np.concatenate([self._space, np.zeros(grow, dtype=bool)])
            for t in range(self._size, self._nwords.size):
                self._texts[t] = ("", ())
        tokens = tokens[live]
        new = self._nwords[tokens] == _UNKNOWN
        if not new.any():
            return
        todo = np.unique(tokens[new]).tolist()
        rows = [[*a, t] for a, _ in self._anchors for t in todo]
        texts = self.tokenizer.batch_decode(rows, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        for i, t in enumerate(todo):
            seen = {
                full[len(base) :] if full.startswith(base) else "\ufffd"
                for (_, base), full in zip(self._anchors, texts[i :: len(todo)], strict=True)
            }
            text = seen.pop() if len(seen) == 1 else "\ufffd"
            if "\ufffd" in text:
                self._nwords[t] = _MANY
                continue
            words = tuple(textfp.tokenize(text)[0])
            self._texts[t] = (text, words)
            self._nwords[t] = min(len(words), _MANY)
            self._space[t] = text[:1].isspace()

    def _hashes(self, rows: Sequence[Sequence[str]], width: int) -> U64:
        """The word hashes of rows of ``width`` words, as an array; new words hashed in one batch."""
        flat = [w for row in rows for w in row]
        missing = list({w for w in flat if w not in self._hash})
        if missing:
            if len(self._hash) > 1 << 18:
                self._hash.clear()
                missing = list(set(flat))
            self._hash.update(zip(missing, word_hashes(missing).tolist(), strict=True))
        h = self._hash
        return np.fromiter((h[w] for w in flat), dtype=np.uint64, count=len(flat)).reshape(len(rows), width)

    def _piece(self, tail: _Tail, token: int) -> tuple[str, bool]:
        """The text ``token`` adds after ``tail``, and whether it ends in part of a character (the whole
        characters before that are in the text; the part waits for the next token)."""
        if token >= self._size:
            return "", False
        if not tail.pending and token in self._texts:
            return self._texts[token][0], False
        base = self._decode(tail.context)
        full = self._decode([*tail.context, *tail.pending, token])
        whole = full.rstrip("\ufffd")
        split = len(whole) < len(full) and len(tail.pending) < 8  # eight tokens of no text: bytes that never end
        return (whole if split else full)[len(base) + tail.shown :], split

    def _tail(
        self, closed: Sequence[str], text: str, context: Sequence[int], pending: Sequence[int] = (), shown: int = 0
    ) -> _Tail:
        """The tail after ``text`` (which starts at a word, or has none) follows the closed words ``closed``."""
        words, spans = textfp.tokenize(text)
        keep = self.blocklist.n - 1
        ctx, pend = tuple(context), tuple(pending)
        if not words:
            return _Tail(tuple(closed[-keep:]), "", (), False, ctx, pend, shown)
        last, end = spans[-1]
        if not _OPEN_AFTER.fullmatch(text, end):  # the last word is closed too
            return _Tail((*closed, *words)[-keep:], "", (), False, ctx, pend, shown)
        first_open = next(i for i, (a, _) in enumerate(spans) if a == last)
        trailing = text[end:]
        return _Tail(
            (*closed, *words[:first_open])[-keep:],
            text[last:],
            tuple(words[first_open:]),
            "-" in trailing or "\u2010" in trailing,
            ctx,
            pend,
            shown,
        )

    def _fresh(self, row: npt.NDArray[np.int64]) -> _Tail:
        """The tail of a sequence not seen before: its last tokens decoded, the first word dropped unless the
        decoded tokens start the sequence (it may be the end of a longer word)."""
        width = 8 * self.blocklist.n
        while True:
            window = row[-width:].tolist()
            full = self._decode(window)
            text, pending, shown = full.rstrip("\ufffd"), 0, 0
            if len(text) < len(full):  # ends in part of a character: which tokens are not whole text yet?
                pending = next((p for p in range(1, min(8, len(window)) + 1)
                                if not self._decode(window[:-p]).endswith("\ufffd")), 0)  # fmt: skip
                shown = len(text) - len(self._decode(window[:-pending])) if pending else 0
                text = text if pending else full
            whole = width >= row.size
            words, spans = textfp.tokenize(text)
            if whole or len(words) > self.blocklist.n + 1:
                break
            width *= 2
        if not whole and spans:
            cut = next((i for i, (a, _) in enumerate(spans) if a > spans[0][0]), len(spans))
            words, spans = words[cut:], spans[cut:]
        done = window[: len(window) - pending]
        context, rest = done[-_DECODE_CONTEXT:], window[len(done) :]
        if not spans:
            return _Tail((), "", (), False, tuple(context), tuple(rest), shown)
        last = spans[-1][0]
        first_open = next(i for i, (a, _) in enumerate(spans) if a == last)
        return self._tail(words[:first_open], text[last:], context, rest, shown)

    def _advance(self, tail: _Tail, token: int) -> _Tail:
        piece, split = self._piece(tail, token)
        if split:
            context, pending, shown = tail.context, (*tail.pending, token), tail.shown + len(piece)
        else:
            context, pending, shown = (*tail.context, *tail.pending, token)[-_DECODE_CONTEXT:], (), 0
        if not piece:
            return _Tail(tail.closed, tail.text, tail.words, tail.hyphen, context, pending, shown)
        return self._tail(tail.closed, tail.text + piece, context, pending, shown)

    def _tails_of(self, ids: npt.NDArray[np.int64]) -> list[_Tail]:
        tails: list[_Tail] = []
        seen: dict[bytes, _Tail] = {}
        for row in ids:
            key = row.tobytes()
            tail = self._tails.get(key) or seen.get(key)
            if tail is None:
                before = self._tails.get(key[:-8]) if row.size > 1 else None
                tail = self._advance(before, int(row[-1])) if before is not None else self._fresh(row)
            seen[key] = tail
            tails.append(tail)
        self._tails = seen  # only the sequences of this step are needed at the next
        return tails

    # -- checks ------------------------------------------------------------------------------------------

    def _prefixes(self, tails: Sequence[_Tail]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """For each row, whether the words before the open word (a candidate extends it) and before a new
        word are the first ``n - 1`` words of a protected n-gram (remembered: a space or a comma leaves the
        words as they were)."""
        keep = self.blocklist.n - 1
        keys = [(t.closed, t.words) for t in tails]
        rows: list[tuple[str, ...]] = []
        owner: list[tuple[tuple[tuple[str, ...], tuple[str, ...]], int]] = []
        for key in dict.fromkeys(k for k in keys if k not in self._known):
            closed, words = key
            self._known[key] = (False, False)
            if len(words) == 1 and len(closed) >= keep:
                rows.append(closed[-keep:])
                owner.append((key, 0))
            if len(closed) + len(words) >= keep:
                rows.append((*closed, *words)[-keep:])
                owner.append((key, 1))
        if rows:
            found = self.blocklist.known_prefixes(self._hashes(rows, keep)).tolist()
            for (key, which), f in zip(owner, found, strict=True):
                if f:
                    pair = self._known[key]
                    self._known[key] = (True, pair[1]) if which == 0 else (pair[0], True)
        known = np.array([self._known[k] for k in keys], dtype=bool).reshape(len(keys), 2)
        if len(self._known) > 1 << 16:
            self._known.clear()
        return known[:, 0], known[:, 1]

    def _new_words(self, pairs: Sequence[tuple[_Tail, int]]) -> list[bool]:
        """For (tail, one-word token that surely starts a new word): is that word the end of a protected
        n-gram?"""
        keep = self.blocklist.n - 1
        rows = [((*t.closed, *t.words)[-keep:] + self._texts[c][1]) for t, c in pairs]
        return self.blocklist.contains(self._hashes(rows, keep + 1)).tolist() if rows else []

    def _in_context(self, pairs: Sequence[tuple[_Tail, int]]) -> list[bool]:
        """For each (tail, token): decoded in context, does it change or add a word that ends a protected
        n-gram?"""
        n = self.blocklist.n
        rows: list[tuple[str, ...]] = []
        owner: list[int] = []
        for i, (tail, token) in enumerate(pairs):
            piece = self._piece(tail, token)[0]
            if not piece:
                continue
            words = textfp.tokenize(tail.text + piece)[0]
            same = 0
            while same < min(len(words), len(tail.words)) and words[same] == tail.words[same]:
                same += 1
            seq = (*tail.closed, *words)
            for end in range(max(len(tail.closed) + same, n - 1), len(seq)):
                rows.append(seq[end - n + 1 : end + 1])
                owner.append(i)
        self.checked += len(pairs)
        out = [False] * len(pairs)
        if rows:
            for i, f in zip(owner, self.blocklist.contains(self._hashes(rows, n)).tolist(), strict=True):
                out[i] = out[i] or f
        return out

    def _refused(self, tails: Sequence[_Tail], cand: npt.NDArray[np.int64], live: npt.NDArray[np.bool_]) -> Any:
        """Which of the candidates ``cand`` (a row per tail; ``live``: worth checking) are refused."""
        self._learn(cand, live)
        words = self._nwords[cand]
        odd = np.array([t.odd for t in tails], dtype=bool)[:, None]
        extend_known, new_known = self._prefixes(tails)
        no_open = np.array([not t.words for t in tails], dtype=bool)[:, None]
        clean_end = np.array([not t.hyphen for t in tails], dtype=bool)[:, None]
        one = live & ~odd & (words == 1)
        starts_word = one & (no_open | (clean_end & self._space[cand]))
        lookup = starts_word & new_known[:, None]
        decode = live & (odd | (words >= 2) | (one & ~starts_word & (extend_known | new_known)[:, None]))
        refused = np.zeros(cand.shape, dtype=bool)
        for mask, check in ((lookup, self._new_words), (decode, self._in_context)):
            at = np.argwhere(mask)
            if at.size:
                refused[at[:, 0], at[:, 1]] = check([(tails[r], int(cand[r, j])) for r, j in at.tolist()])
        return refused

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        ids = input_ids.detach().cpu().numpy().astype(np.int64, copy=False)
        tails = self._tails_of(ids)
        width = int(scores.shape[-1])
        k = min(self.top_k, width)
        vals, cand_t = scores.topk(k, dim=-1)
        cand, live = cand_t.cpu().numpy(), torch.isfinite(vals).cpu().numpy()
        refused = self._refused(tails, cand, live)
        allowed = live & ~refused
        self.masked += int(refused.sum())
        self.blocked += int(refused[:, 0].sum())
        # the checked and allowed candidates keep their scores; everything else is -inf
        kept = vals.masked_fill(torch.from_numpy(~allowed).to(scores.device), -float("inf"))
        out = torch.full_like(scores, -float("inf")).scatter_(1, cand_t, kept)
        rows = np.flatnonzero(live.any(axis=1) & ~allowed.any(axis=1))
        if rows.size:  # every candidate of these rows was refused: the next k, down their ranking
            ranked = scores.argsort(dim=-1, descending=True)
            for start in range(k, width, k):
                at = torch.from_numpy(rows).to(scores.device)
                cand_t = ranked[at, start : start + k]
                vals = scores[at[:, None], cand_t]
                cand, live = cand_t.cpu().numpy(), torch.isfinite(vals).cpu().numpy()
                refused = self._refused([tails[r] for r in rows.tolist()], cand, live)
                allowed = live & ~refused
                self.masked += int(refused.sum())
                hit = np.argwhere(allowed)
                r_keep = at[torch.from_numpy(hit[:, 0]).to(scores.device)]
                c_keep = cand_t[
                    torch.from_numpy(hit[:, 0]).to(scores.device), torch.from_numpy(hit[:, 1]).to(scores.device)
                ]
                out[r_keep, c_keep] = scores[r_keep, c_keep]
                rows = rows[live.any(axis=1) & ~allowed.any(axis=1)]
                if not rows.size:
                    break
        return out


__all__ = ["WordBlocklist", "WordMemFree", "word_hashes"]
