/* Compiled kernels for the hot loops of matching, where numpy's per-call and per-temporary costs
 * dominate: the corpus scanner calls them once per document, the guard once per output.
 *
 * - fingerprint: textfp.text_fingerprint's tokens, token hashes, k-grams and winnowing in one pass, for
 *   ASCII text (None for any other).
 * - fingerprint_unicode: the same for any text (Chinese, Japanese, Korean, accented, mixed), from a table of
 *   every code point's class and normalised form that textfp builds from this Python's unicodedata, asking
 *   Python back for the rare token whose normalisation depends on its neighbours.
 * - normalise_ascii, normalise_unicode: content.normalise_text for ASCII text, and for text whose every
 *   character has a known normalised form in content's table (None for any other).
 * - lsh_keys: textfp.lsh_keys for one signature.
 * - lookup: the keys equal to each needle in a sorted key column with a bucket directory (index.segment).
 * - mih_search, mih_wide_search: the multi-index Hamming search of index.segment.Segment.image_candidates, over
 *   16 chunks of 16 bits (smaller segments) or 11 chunks of 23-24 bits (large ones).
 * - iscc_minhash, iscc_text_minhash, iscc_data_minhash: the MinHash of iscc-core's Text-Code (xxh32 of every 13-character
 *   n-gram) and Data-Code (xxh32 of every content-defined chunk), registry.iscc's hot loops.
 * - iscc_dct32: the 32x32 DCT of iscc-core's Image-Code (registry.iscc_image), the same doubles as its numpy path.
 * - reduce64: crops of an RGB image resized to 64x64, byte for byte as Pillow's BICUBIC and BOX resampling
 *   (matching.imagefp), the 18 crops of an index entry in one call.
 * - pdq64: the PDQ hash and quality of a 64x64 RGB image (matching.imagefp), bit for bit as the pdqhash binding
 *   of Meta's reference computes them for that size, without its per-call numpy temporaries and its Python loop
 *   over the 256 bits.
 *
 * The extension is optional: where it is not built (no C compiler) every caller has a numpy or Python
 * implementation, and the test suite checks that both give identical results on generated inputs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Loops the compiler vectorises are also built for AVX2 and chosen when the module loads (x86-64's baseline,
 * SSE2, has no 32-bit integer vector multiply and half the width). Only where no multiply-add can be fused
 * (-ffp-contract=off), so both builds round every float the same way. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && defined(__GLIBC__)
#define SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SIMD_CLONES
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#define POPCOUNT64(x) __builtin_popcountll(x)
#else
#define PREFETCH(p) ((void)0)
static int POPCOUNT64(uint64_t x) {
    int n = 0;
    for (; x; x &= x - 1) n++;
    return n;
}
#endif

/* These constants are part of textfp.FINGERPRINT_VERSION: changing one changes every fingerprint. */
#define POLY_P 0x9FB21C651E98DF25ULL
#define LEN_MULT 0xC2B2AE3D27D4EB4FULL
#define K 5
#define W 8
static const uint64_t KGRAM_MULT[K] = {0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL, 0x165667B19E3779F9ULL,
                                       0xD6E8FEB86659FD93ULL, 0xFF51AFD7ED558CCDULL};

enum { CLS_SPACE = 0, CLS_WORD = 1, CLS_PUNCT = 2 };
static uint8_t CLS[128];

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static void init_classes(void) {
    for (int c = 0; c < 128; c++) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            CLS[c] = CLS_WORD;
        else if ((c >= 9 && c <= 13) || (c >= 28 && c <= 32)) /* str.isspace() on ASCII */
            CLS[c] = CLS_SPACE;
        else
            CLS[c] = CLS_PUNCT;
    }
}

/* The text lower-cased: ASCII letters only, which is str.casefold() on ASCII. */
static void ascii_lower(PyObject *text, uint8_t *out) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    const uint8_t *in = PyUnicode_1BYTE_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++) out[i] = in[i] + ((uint8_t)(in[i] - 'A') < 26) * 32;
}

/* Characters deleted from inside a word: a punctuation run with a word character on both sides, and a
 * hyphen breaking a word across lines (the regex [-][ \t]*\r?\n[ \t]* between word characters). */
static void mark_glue(const uint8_t *s, Py_ssize_t n, uint8_t *glue) {
    Py_ssize_t i = 0;
    while (i < n) {
        if (CLS[s[i]] != CLS_PUNCT) {
            i++;
            continue;
        }
        Py_ssize_t lo = i;
        while (i < n && CLS[s[i]] == CLS_PUNCT) i++;
        if (lo > 0 && i < n && CLS[s[lo - 1]] == CLS_WORD && CLS[s[i]] == CLS_WORD) {
            memset(glue + lo, 1, i - lo);
            continue;
        }
        /* A line-breaking hyphen is the last punctuation of its run: a space, tab, CR or LF follows it. The
         * regex scans left to right without overlaps, and a match holds no other '-', so testing the last
         * character of each run finds exactly its matches. */
        if (s[i - 1] != '-') continue;
        Py_ssize_t h = i - 1, j = i;
        while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
        if (j < n && s[j] == '\r') j++;
        if (j >= n || s[j] != '\n') continue;
        j++;
        while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
        if (h > 0 && j < n && CLS[s[h - 1]] == CLS_WORD && CLS[s[j]] == CLS_WORD) memset(glue + h, 1, j - h);
        i = j;
    }
}

static PyObject *bytes_of(const void *p, Py_ssize_t count, Py_ssize_t width) {
    return PyBytes_FromStringAndSize((const char *)p, count * width);
}

/* k-grams of t token hashes into kg (m of them: t - K + 1, or one hash of them all when 0 < t < K) and the
 * winnowed positions into picks; fwd and bwd are scratch of t entries. Returns the number of picks. */
static Py_ssize_t kgrams_winnow(const uint64_t *th, Py_ssize_t t, uint64_t *kg, int64_t *picks, int64_t *fwd,
                                int64_t *bwd, Py_ssize_t *m_out) {
    Py_ssize_t m = 0, npicks = 0;
    /* k-grams: fewer tokens than K give one hash of them all */
    if (t > 0) {
        int k = t < K ? (int)t : K;
        m = t - k + 1;
        if (k == K) {
            for (Py_ssize_t i = 0; i < m; i++)
                kg[i] = mix64(th[i] * KGRAM_MULT[0] + th[i + 1] * KGRAM_MULT[1] + th[i + 2] * KGRAM_MULT[2] +
                              th[i + 3] * KGRAM_MULT[3] + th[i + 4] * KGRAM_MULT[4]);
        } else {
            uint64_t acc = 0;
            for (int j = 0; j < k; j++) acc += th[j] * KGRAM_MULT[j];
            kg[0] = mix64(acc);
        }
        /* winnowing: the leftmost minimum of every window of W k-grams, each position once. van Herk /
         * Gil-Werman: with minima running forward and backward inside blocks of w, a window's minimum is
         * the better of its first position's backward minimum and its last position's forward minimum
         * (ties to the left), three comparisons per k-gram whatever w. */
        Py_ssize_t w = m < W ? m : W;
        for (Py_ssize_t i = 0; i < m; i++) fwd[i] = (i % w == 0 || kg[i] < kg[fwd[i - 1]]) ? i : fwd[i - 1];
        for (Py_ssize_t i = m - 1; i >= 0; i--)
            bwd[i] = (i == m - 1 || (i + 1) % w == 0 || kg[i] <= kg[bwd[i + 1]]) ? i : bwd[i + 1];
        for (Py_ssize_t i = 0; i + w <= m; i++) {
            int64_t a = bwd[i], b = fwd[i + w - 1];
            int64_t best = i % w == 0 ? b : (kg[a] <= kg[b] ? a : b);
            if (npicks == 0 || picks[npicks - 1] != best) picks[npicks++] = best;
        }
    }
    *m_out = m;
    return npicks;
}

/* fingerprint(text) -> (starts, ends, token_hashes, kgrams, winnowed) as bytes of int64/uint64, or None
 * when the text is not ASCII. */
static PyObject *fingerprint(PyObject *self, PyObject *args) {
    PyObject *text;
    if (!PyArg_ParseTuple(args, "U", &text)) return NULL;
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *result = NULL;
    uint8_t *s = malloc(n + 1), *glue = calloc(n + 1, 1);
    /* a token needs at least one character, so n bounds the token count */
    int64_t *starts = malloc((n + 1) * sizeof(int64_t)), *ends = malloc((n + 1) * sizeof(int64_t));
    uint64_t *th = malloc((n + 1) * sizeof(uint64_t)), *kg = malloc((n + 1) * sizeof(uint64_t));
    int64_t *picks = malloc((n + 1) * sizeof(int64_t));
    int64_t *fwd = malloc((n + 1) * sizeof(int64_t)), *bwd = malloc((n + 1) * sizeof(int64_t));
    if (!s || !glue || !starts || !ends || !th || !kg || !picks || !fwd || !bwd) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t t = 0, m = 0, npicks = 0;
    Py_BEGIN_ALLOW_THREADS;
    ascii_lower(text, s);
    mark_glue(s, n, glue);
    /* tokens: maximal runs of word characters once the glue is deleted; offsets in the original text */
    int in_token = 0;
    uint64_t h = 0, pw = 1, len = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (glue[i]) continue;
        uint8_t c = s[i];
        if (CLS[c] == CLS_WORD) {
            if (!in_token) {
                in_token = 1;
                starts[t] = i;
                h = 0, pw = 1, len = 0;
            }
            h += (uint64_t)c * pw;
            pw *= POLY_P;
            len++;
            ends[t] = i + 1;
        } else if (in_token) {
            th[t++] = mix64(h ^ (len * LEN_MULT));
            in_token = 0;
        }
    }
    if (in_token) th[t++] = mix64(h ^ (len * LEN_MULT));
    npicks = kgrams_winnow(th, t, kg, picks, fwd, bwd, &m);
    Py_END_ALLOW_THREADS;
    result = Py_BuildValue("(NNNNN)", bytes_of(starts, t, 8), bytes_of(ends, t, 8), bytes_of(th, t, 8),
                           bytes_of(kg, m, 8), bytes_of(picks, npicks, 8));
done:
    free(s), free(glue), free(starts), free(ends), free(th), free(kg), free(picks), free(fwd), free(bwd);
    return result;
}

/* ---- Unicode text --------------------------------------------------------------------------------------
 *
 * Text with letters outside ASCII (Chinese, Japanese, Korean, accented Latin, ...) is tokenised here from a
 * per-code-point table that Python builds from its own unicodedata and re (kernels.py describes the format;
 * textfp._unicode_table and content._normalise_table build the two tables). The table says what the
 * Python path would do with each character where that does not depend on its neighbours; where it does
 * (a combining mark, a character NFKC may join to the one before it), the kernel asks Python for that one
 * token, through the `resolve` callback, so that the answer is the Python path's by construction. */

#define STAGE1_LEN 0x1100 /* blocks of 256 code points up to U+10FFFF */
#define E_SIMPLE 8u
#define E_HASHES 128u
#define E_LEN(e) ((((e) >> 4) & 7u) + 1)
#define E_INDEX(e) ((e) >> 8)

typedef struct {
    const uint16_t *stage1;
    const uint32_t *stage2;
    uint32_t nblocks;
    const uint32_t *exp;
    Py_ssize_t nexp;
    int bad; /* an entry pointed outside the table */
} CpTable;

static int cp_table(CpTable *tb, const Py_buffer *s1, const Py_buffer *s2, const Py_buffer *ex) {
    if (s1->len != STAGE1_LEN * 2 || s2->len == 0 || s2->len % 1024 || s2->len / 1024 > 65536 || ex->len % 4 ||
        ((uintptr_t)s1->buf & 1) || ((uintptr_t)s2->buf & 3) || ((uintptr_t)ex->buf & 3)) {
        PyErr_SetString(PyExc_ValueError, "not a code point table (stage1, stage2, expansions)");
        return -1;
    }
    tb->stage1 = s1->buf, tb->stage2 = s2->buf, tb->nblocks = (uint32_t)(s2->len / 1024);
    tb->exp = ex->buf, tb->nexp = ex->len / 4, tb->bad = 0;
    return 0;
}

static inline uint32_t cp_entry(CpTable *tb, Py_UCS4 cp) {
    uint32_t b = tb->stage1[cp >> 8]; /* a str holds code points up to U+10FFFF: always in stage1 */
    if (b >= tb->nblocks) tb->bad = 1, b = 0;
    return tb->stage2[(b << 8) | (cp & 255)];
}

/* The first code point of an entry of length 1: cp plus the signed 24-bit delta (unsigned arithmetic). */
static inline uint32_t e_mapped(Py_UCS4 cp, uint32_t e) {
    return (uint32_t)cp + ((((e >> 8) & 0xFFFFFFu) ^ 0x800000u) - 0x800000u);
}

static inline int e_expansion(CpTable *tb, uint32_t e, uint32_t words, const uint32_t **out) {
    if ((Py_ssize_t)E_INDEX(e) + (Py_ssize_t)words > tb->nexp) {
        tb->bad = 1;
        return -1;
    }
    *out = tb->exp + E_INDEX(e);
    return 0;
}

typedef struct {
    uint64_t h, pw, len;
} PolyHash; /* textfp._segment_hashes, one code point at a time */

static inline void ph_add(PolyHash *p, uint64_t c) {
    p->h += c * p->pw;
    p->pw *= POLY_P;
    p->len++;
}

static inline uint64_t ph_done(const PolyHash *p) { return mix64(p->h ^ (p->len * LEN_MULT)); }

static inline void ph_add_entry(CpTable *tb, Py_UCS4 cp, uint32_t e, PolyHash *p) {
    uint32_t len = E_LEN(e);
    const uint32_t *x;
    if (len == 1)
        ph_add(p, e_mapped(cp, e));
    else if (e_expansion(tb, e, len, &x) == 0)
        for (uint32_t k = 0; k < len; k++) ph_add(p, x[k]);
}

typedef struct {
    int64_t *starts, *ends;
    uint64_t *th;
    Py_ssize_t t, cap;
} Tokens;

static int tokens_push(Tokens *k, int64_t start, int64_t end, uint64_t h) {
    if (k->t == k->cap) {
        Py_ssize_t cap = k->cap * 2 + 16;
        int64_t *s = realloc(k->starts, cap * sizeof(int64_t));
        if (s) k->starts = s;
        int64_t *e = s ? realloc(k->ends, cap * sizeof(int64_t)) : NULL;
        if (e) k->ends = e;
        uint64_t *h2 = e ? realloc(k->th, cap * sizeof(uint64_t)) : NULL;
        if (!h2) return -1;
        k->th = h2, k->cap = cap;
    }
    k->starts[k->t] = start, k->ends[k->t] = end, k->th[k->t++] = h;
    return 0;
}

/* With the GIL held: resolve(text, start, end, word) -> bytes of uint64 token hashes, each a token spanning
 * text[start:end]. */
static int call_resolve(PyObject *resolve, PyObject *text, Py_ssize_t start, Py_ssize_t end, int word, Tokens *k) {
    PyObject *r = PyObject_CallFunction(resolve, "Onni", text, start, end, word);
    if (r == NULL) return -1;
    char *buf;
    Py_ssize_t len;
    int rc = PyBytes_AsStringAndSize(r, &buf, &len);
    if (rc == 0 && len % 8) {
        PyErr_SetString(PyExc_ValueError, "resolve must return bytes of uint64 hashes");
        rc = -1;
    }
    for (Py_ssize_t j = 0; rc == 0 && j < len / 8; j++) {
        uint64_t h;
        memcpy(&h, buf + 8 * j, 8);
        if (tokens_push(k, start, end, h) < 0) {
            PyErr_NoMemory();
            rc = -1;
        }
    }
    Py_DECREF(r);
    return rc;
}

/* Classes of textfp._unicode_table: the token pattern's character classes. */
enum { U_OTHER = 0, U_GLUE = 1, U_HYPHEN = 2, U_WORD = 3, U_CHAR = 4, U_CHAR_MARK = 5 };

static inline int u_word(uint32_t cls) { return cls == U_WORD || cls == U_CHAR_MARK; }

static Py_UCS4 *ucs4_copy(PyObject *text, Py_ssize_t n) {
    Py_UCS4 *u = malloc((n + 1) * sizeof(Py_UCS4));
    if (u == NULL) return NULL;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (kind == PyUnicode_1BYTE_KIND)
        for (Py_ssize_t i = 0; i < n; i++) u[i] = ((const Py_UCS1 *)data)[i];
    else if (kind == PyUnicode_2BYTE_KIND)
        for (Py_ssize_t i = 0; i < n; i++) u[i] = ((const Py_UCS2 *)data)[i];
    else
        memcpy(u, data, n * sizeof(Py_UCS4));
    return u;
}

/* fingerprint_unicode(text, stage1, stage2, expansions, resolve) -> (starts, ends, token_hashes, kgrams,
 * winnowed): what textfp.numpy_fingerprint gives for any text.
 *
 * The tokens are the matches of textfp's token pattern, found as re finds them:
 *   ([CHAR]) | (WORD+ (?: (?:GLUE+ | [-\u2010][ \t]*\r?\n[ \t]*) WORD+)*)
 * where WORD is U_WORD or U_CHAR_MARK (a mark of a script written without spaces continues a word but, where
 * a match starts, is a character token of its own: the first alternative is tried first) and GLUE is
 * U_GLUE or U_HYPHEN. The classes do not overlap, so the regex never backtracks into a shorter run and each
 * alternative is a single left-to-right scan. A token's text is its WORD characters (the glue deleted),
 * NFKC-normalised and case-folded: the table gives each character's result where the character is "simple"
 * (NFKC cannot join it to its neighbours, and its own result is word characters), and resolve() gives the
 * token's hashes where any character of it is not. */
static PyObject *fingerprint_unicode(PyObject *self, PyObject *args) {
    PyObject *text, *resolve;
    Py_buffer s1 = {0}, s2 = {0}, ex = {0};
    if (!PyArg_ParseTuple(args, "Uy*y*y*O", &text, &s1, &s2, &ex, &resolve)) return NULL;
    PyObject *result = NULL;
    Py_UCS4 *u = NULL;
    Tokens tk = {0};
    uint64_t *kg = NULL;
    int64_t *picks = NULL, *fwd = NULL, *bwd = NULL;
    CpTable tab;
    if (cp_table(&tab, &s1, &s2, &ex) < 0) goto done;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    tk.cap = n + 1; /* a token found here needs a character; resolve() may add more */
    tk.starts = malloc(tk.cap * sizeof(int64_t)), tk.ends = malloc(tk.cap * sizeof(int64_t));
    tk.th = malloc(tk.cap * sizeof(uint64_t));
    if (!tk.starts || !tk.ends || !tk.th || !(u = ucs4_copy(text, n))) {
        PyErr_NoMemory();
        goto done;
    }
    enum { OK = 0, NO_MEMORY, RAISED };
    int err = OK;
    Py_ssize_t m = 0, npicks = 0;
    PyThreadState *ts = PyEval_SaveThread();
#define RESOLVE(start, end, word)                                                                            \
    do {                                                                                                     \
        PyEval_RestoreThread(ts);                                                                            \
        if (call_resolve(resolve, text, (start), (end), (word), &tk) < 0) err = RAISED;                      \
        ts = PyEval_SaveThread();                                                                            \
    } while (0)
    Py_ssize_t i = 0;
    while (i < n && err == OK) {
        uint32_t e = cp_entry(&tab, u[i]), cls = e & 7;
        if (cls == U_CHAR || cls == U_CHAR_MARK) { /* a token of its own */
            if (!(e & E_SIMPLE)) {
                RESOLVE(i, i + 1, 0);
            } else if (e & E_HASHES) {
                const uint32_t *x;
                uint32_t count = E_LEN(e);
                if (e_expansion(&tab, e, 2 * count, &x) == 0)
                    for (uint32_t k = 0; k < count && err == OK; k++)
                        if (tokens_push(&tk, i, i + 1, x[2 * k] | (uint64_t)x[2 * k + 1] << 32) < 0) err = NO_MEMORY;
            } else {
                PolyHash p = {0, 1, 0};
                ph_add_entry(&tab, u[i], e, &p);
                if (tokens_push(&tk, i, i + 1, ph_done(&p)) < 0) err = NO_MEMORY;
            }
            i++;
            continue;
        }
        if (cls != U_WORD) {
            i++;
            continue;
        }
        Py_ssize_t start = i, end;
        PolyHash p = {0, 1, 0};
        int ask = 0; /* a character of this token is not simple: resolve() hashes it */
        for (;;) {
            for (; i < n; i++) { /* a run of word characters */
                e = cp_entry(&tab, u[i]), cls = e & 7;
                if (cls == U_WORD && (e & E_SIMPLE)) {
                    if (!ask) ph_add_entry(&tab, u[i], e, &p);
                } else if (u_word(cls)) {
                    ask = 1;
                } else {
                    break;
                }
            }
            end = i;
            if (i == n || (cls != U_GLUE && cls != U_HYPHEN)) break;
            Py_ssize_t j = i + 1; /* glue joins the next run of word characters to this one */
            uint32_t next = U_OTHER;
            while (j < n && ((next = cp_entry(&tab, u[j]) & 7) == U_GLUE || next == U_HYPHEN)) j++;
            if (j < n && u_word(next)) {
                i = j;
                continue;
            }
            if (cls == U_HYPHEN) { /* or a hyphen at a line break, right after the word */
                j = i + 1;
                while (j < n && (u[j] == ' ' || u[j] == '\t')) j++;
                if (j < n && u[j] == '\r') j++;
                if (j < n && u[j] == '\n') {
                    j++;
                    while (j < n && (u[j] == ' ' || u[j] == '\t')) j++;
                    if (j < n && u_word(cp_entry(&tab, u[j]) & 7)) {
                        i = j;
                        continue;
                    }
                }
            }
            break;
        }
        i = end;
        if (ask)
            RESOLVE(start, end, 1);
        else if (tokens_push(&tk, start, end, ph_done(&p)) < 0)
            err = NO_MEMORY;
    }
#undef RESOLVE
    if (err == OK) {
        Py_ssize_t t = tk.t;
        kg = malloc((t + 1) * sizeof(uint64_t)), picks = malloc((t + 1) * sizeof(int64_t));
        fwd = malloc((t + 1) * sizeof(int64_t)), bwd = malloc((t + 1) * sizeof(int64_t));
        if (!kg || !picks || !fwd || !bwd)
            err = NO_MEMORY;
        else
            npicks = kgrams_winnow(tk.th, t, kg, picks, fwd, bwd, &m);
    }
    PyEval_RestoreThread(ts);
    if (err == NO_MEMORY)
        PyErr_NoMemory();
    else if (err == OK && tab.bad)
        PyErr_SetString(PyExc_ValueError, "a code point table entry points outside its expansions");
    else if (err == OK)
        result = Py_BuildValue("(NNNNN)", bytes_of(tk.starts, tk.t, 8), bytes_of(tk.ends, tk.t, 8),
                               bytes_of(tk.th, tk.t, 8), bytes_of(kg, m, 8), bytes_of(picks, npicks, 8));
done:
    PyBuffer_Release(&s1), PyBuffer_Release(&s2), PyBuffer_Release(&ex);
    free(u), free(tk.starts), free(tk.ends), free(tk.th), free(kg), free(picks), free(fwd), free(bwd);
    return result;
}

/* Classes of content._normalise_table. */
enum { N_ASK = 0, N_SPACE = 1, N_KEEP = 2 };

static inline Py_ssize_t put_utf8(char *o, uint32_t c) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | (c >> 6 & 0x3F)), o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18 & 0x07)), o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F)), o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* normalise_unicode(text, stage1, stage2, expansions) -> bytes | None: content.normalise_text(text) as UTF-8
 * where every character of text is simple in the table (N_SPACE: whitespace, N_KEEP: its result, which
 * NFKC leaves alone, in place of it), None otherwise. Runs of whitespace become one space, none at the ends,
 * as " ".join(t.split()) does. */
static PyObject *normalise_unicode(PyObject *self, PyObject *args) {
    PyObject *text, *result = NULL;
    Py_buffer s1 = {0}, s2 = {0}, ex = {0};
    if (!PyArg_ParseTuple(args, "Uy*y*y*", &text, &s1, &s2, &ex)) return NULL;
    CpTable tab;
    char *out = NULL;
    if (cp_table(&tab, &s1, &s2, &ex) < 0) goto done;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), o = 0, cap = 3 * n + 64;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if ((out = malloc(cap)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int pending_space = 0, simple = 1;
    for (Py_ssize_t i = 0; i < n && simple; i++) {
        Py_UCS4 cp = PyUnicode_READ(kind, data, i);
        uint32_t e = cp_entry(&tab, cp), cls = e & 7;
        if (cls == N_SPACE && (e & E_SIMPLE)) {
            pending_space = o > 0;
            continue;
        }
        if (cls != N_KEEP || !(e & E_SIMPLE)) {
            simple = 0;
            break;
        }
        if (o + 1 + 4 * 8 > cap) { /* a space and up to 8 code points of 4 bytes */
            char *grown = realloc(out, cap * 2);
            if (grown == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            out = grown, cap *= 2;
        }
        if (pending_space) out[o++] = ' ', pending_space = 0;
        uint32_t len = E_LEN(e);
        const uint32_t *x;
        if (len == 1)
            o += put_utf8(out + o, e_mapped(cp, e) & 0x1FFFFF);
        else if (e_expansion(&tab, e, len, &x) == 0)
            for (uint32_t k = 0; k < len; k++) o += put_utf8(out + o, x[k] & 0x1FFFFF);
    }
    if (tab.bad)
        PyErr_SetString(PyExc_ValueError, "a code point table entry points outside its expansions");
    else
        result = simple ? PyBytes_FromStringAndSize(out, o) : Py_NewRef(Py_None);
done:
    PyBuffer_Release(&s1), PyBuffer_Release(&s2), PyBuffer_Release(&ex);
    free(out);
    return result;
}

/* lsh_keys(signature) -> bytes: textfp.lsh_keys for a signature of BANDS x ROWS uint32 values, as 64-bit
 * keys (one per band). Called once per document; numpy's per-call overhead on 16-element arrays made it
 * cost more than the MinHash itself. */
#define BANDS 16
#define ROWS 8
static PyObject *lsh_keys(PyObject *self, PyObject *args) {
    Py_buffer sig = {0};
    if (!PyArg_ParseTuple(args, "y*", &sig)) return NULL;
    if (sig.len != BANDS * ROWS * 4) {
        PyBuffer_Release(&sig);
        return PyErr_Format(PyExc_ValueError, "a signature has %d uint32 values, not %zd bytes", BANDS * ROWS,
                            sig.len);
    }
    const uint32_t *v = (const uint32_t *)sig.buf;
    uint64_t keys[BANDS];
    for (int b = 0; b < BANDS; b++) {
        uint64_t acc = (uint64_t)(b + 1) * 0x9E3779B97F4A7C15ULL;
        for (int j = 0; j < ROWS; j++) acc = mix64(acc ^ (uint64_t)v[b * ROWS + j]);
        keys[b] = acc;
    }
    PyBuffer_Release(&sig);
    return PyBytes_FromStringAndSize((const char *)keys, sizeof keys);
}

/* normalise_ascii(text) -> bytes | None: content.normalise_text for an ASCII str, as bytes; None otherwise.
 * On ASCII, NFKC changes nothing, case folding is lower-casing, the typography table maps only the grave
 * accent, and str.split() splits on the ASCII whitespace of CLS_SPACE. */
static PyObject *normalise_ascii(PyObject *self, PyObject *args) {
    PyObject *text;
    if (!PyArg_ParseTuple(args, "U", &text)) return NULL;
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), o = 0;
    const uint8_t *in = PyUnicode_1BYTE_DATA(text);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL) return NULL;
    char *buf = PyBytes_AS_STRING(out);
    int pending_space = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (CLS[c] == CLS_SPACE) {
            pending_space = o > 0;
            continue;
        }
        if (pending_space) buf[o++] = ' ', pending_space = 0;
        if (c >= 'A' && c <= 'Z') c += 32;
        else if (c == '`') c = '\'';
        buf[o++] = (char)c;
    }
    if (_PyBytes_Resize(&out, o) < 0) return NULL;
    return out;
}

/* lookup(keys, directory, needles, max_hits) -> (needle_index, key_index) as bytes of int64.
 *
 * Every key equal to a needle, found through the bucket directory of index.segment._directory (bucket b of
 * the sorted uint64 keys sharing their top bits is keys[directory[b]:directory[b + 1]], directory int64).
 * A needle with more than max_hits equal keys (max_hits > 0) yields none. The numpy version of this spends
 * its time building temporaries for a few thousand candidates; here it is one short scan per needle, and
 * the loads of different needles overlap in the memory system. */
static PyObject *lookup(PyObject *self, PyObject *args) {
    Py_buffer keys = {0}, dir = {0}, needles = {0};
    Py_ssize_t max_hits;
    PyObject *result = NULL;
    int64_t *owner = NULL, *idx = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*n", &keys, &dir, &needles, &max_hits)) return NULL;
    Py_ssize_t nk = keys.len / 8, nd = dir.len / 8, nn = needles.len / 8;
    int bits = 0;
    while (((Py_ssize_t)1 << bits) < nd - 1) bits++;
    if (nd < 2 || ((Py_ssize_t)1 << bits) != nd - 1 || bits > 63) {
        PyErr_SetString(PyExc_ValueError, "a directory has 2**bits + 1 int64 entries");
        goto done;
    }
    const uint64_t *k = keys.buf, *q = needles.buf;
    const int64_t *d = dir.buf;
    if (d[nd - 1] != nk) {
        PyErr_SetString(PyExc_ValueError, "the directory does not describe these keys");
        goto done;
    }
    Py_ssize_t cap = nn > 16 ? nn : 16, n = 0;
    owner = malloc(cap * sizeof(int64_t)), idx = malloc(cap * sizeof(int64_t));
    if (!owner || !idx) {
        PyErr_NoMemory();
        goto done;
    }
    /* three passes in blocks, so that the cache misses of a block's needles overlap instead of queueing:
     * prefetch the directory entries, then the buckets, then scan them */
    enum { BLOCK = 64 };
    int64_t blo[BLOCK], bhi[BLOCK];
    for (Py_ssize_t i = 0; i < nn; i++) {
        Py_ssize_t r = i % BLOCK;
        if (r == 0) {
            Py_ssize_t end = i + BLOCK < nn ? i + BLOCK : nn;
            for (Py_ssize_t t = i; t < end; t++) PREFETCH(&d[bits ? q[t] >> (64 - bits) : 0]);
            for (Py_ssize_t t = i; t < end; t++) {
                uint64_t b = bits ? q[t] >> (64 - bits) : 0;
                blo[t - i] = d[b], bhi[t - i] = d[b + 1];
                PREFETCH(&k[blo[t - i]]);
            }
        }
        int64_t lo = blo[r], hi = bhi[r];
        Py_ssize_t first = n;
        for (int64_t j = lo; j < hi; j++) {
            if (k[j] != q[i]) continue;
            if (n == cap) {
                cap *= 2;
                int64_t *o2 = realloc(owner, cap * sizeof(int64_t)), *i2 = o2 ? realloc(idx, cap * sizeof(int64_t)) : NULL;
                if (o2) owner = o2;
                if (i2) idx = i2;
                if (!o2 || !i2) {
                    PyErr_NoMemory();
                    goto done;
                }
            }
            owner[n] = i, idx[n] = j, n++;
        }
        if (max_hits > 0 && n - first > max_hits) n = first;
    }
    result = Py_BuildValue("(NN)", bytes_of(owner, n, 8), bytes_of(idx, n, 8));
done:
    PyBuffer_Release(&keys), PyBuffer_Release(&dir), PyBuffer_Release(&needles);
    free(owner), free(idx);
    return result;
}

static int cmp_pair(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* The (query row, row, distance) triples a multi-index search found, grown as found. */
typedef struct {
    int64_t *p;
    Py_ssize_t n, cap;
} Triples;

static int triples_add(Triples *t, int64_t qi, int64_t row, int64_t d) {
    if (t->n == t->cap) {
        Py_ssize_t cap = t->cap ? t->cap * 2 : 64;
        int64_t *grown = realloc(t->p, cap * 3 * sizeof(int64_t));
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        t->p = grown, t->cap = cap;
    }
    t->p[3 * t->n] = qi, t->p[3 * t->n + 1] = row, t->p[3 * t->n + 2] = d, t->n++;
    return 0;
}

/* (rows, query_rows, distances) as bytes of int64, sorted by query row then row, a row found through several
 * chunks reported once. */
static PyObject *triples_result(Triples *t) {
    int64_t *pairs = t->p;
    Py_ssize_t m = 0;
    if (t->n) qsort(pairs, t->n, 3 * sizeof(int64_t), cmp_pair);
    for (Py_ssize_t i = 0; i < t->n; i++)
        if (m == 0 || pairs[3 * (m - 1)] != pairs[3 * i] || pairs[3 * (m - 1) + 1] != pairs[3 * i + 1]) {
            memmove(pairs + 3 * m, pairs + 3 * i, 3 * sizeof(int64_t));
            m++;
        }
    PyObject *result = NULL, *rows = PyBytes_FromStringAndSize(NULL, m * 8),
             *qrows = PyBytes_FromStringAndSize(NULL, m * 8), *dist = PyBytes_FromStringAndSize(NULL, m * 8);
    if (rows && qrows && dist) {
        int64_t *r = (int64_t *)PyBytes_AS_STRING(rows), *qr = (int64_t *)PyBytes_AS_STRING(qrows),
                *d = (int64_t *)PyBytes_AS_STRING(dist);
        for (Py_ssize_t i = 0; i < m; i++) qr[i] = pairs[3 * i], r[i] = pairs[3 * i + 1], d[i] = pairs[3 * i + 2];
        result = PyTuple_Pack(3, rows, qrows, dist);
    }
    Py_XDECREF(rows), Py_XDECREF(qrows), Py_XDECREF(dist);
    return result;
}

static inline int pdq_distance4(const uint64_t *w, const uint64_t *q) {
    return POPCOUNT64(w[0] ^ q[0]) + POPCOUNT64(w[1] ^ q[1]) + POPCOUNT64(w[2] ^ q[2]) + POPCOUNT64(w[3] ^ q[3]);
}

/* mih_search(pdq, table, order, query, max_distance) -> (rows, query_rows, distances) as bytes of int64.
 *
 * pdq: (n, 4) uint64, the stored 256-bit hashes; table: (16, 65537) int32, where bucket v of chunk c is
 * order[c][table[c][v]:table[c][v + 1]]; order: (16, n) int32, row numbers sorted by chunk c's 16-bit value;
 * query: (q, 4) uint64. Every (row, query row) pair within max_distance (< 32) bits, sorted by query row then
 * row, each once. Pigeonhole: 16 chunks and at most 31 differing bits leave some chunk with at most one, so
 * probing each chunk's value and its 16 one-bit neighbours finds every such row. The numpy version spends
 * its time sorting and gathering the ~30,000 candidates of a query against 1.8M hashes; here each candidate
 * is one prefetched 32-byte read and four popcounts. */
#define MIH_CHUNKS 16
#define MIH_BUCKETS 65537
#define MIH_AHEAD 32

static PyObject *mih_search(PyObject *self, PyObject *args) {
    Py_buffer pdq = {0}, table = {0}, order = {0}, query = {0};
    int max_distance;
    PyObject *result = NULL;
    Triples found = {0};
    if (!PyArg_ParseTuple(args, "y*y*y*y*i", &pdq, &table, &order, &query, &max_distance)) return NULL;
    Py_ssize_t n = pdq.len / 32, nq = query.len / 32;
    if (table.len != (Py_ssize_t)MIH_CHUNKS * MIH_BUCKETS * 4 || order.len != (Py_ssize_t)MIH_CHUNKS * n * 4 ||
        max_distance < 0 || max_distance >= 2 * MIH_CHUNKS) {
        PyErr_SetString(PyExc_ValueError, "mih_search: arrays of the wrong shape, or a distance over 31");
        goto done;
    }
    const uint64_t *h = pdq.buf, *q = query.buf;
    const int32_t *tab = table.buf, *ord = order.buf;
    int flips = max_distance >= MIH_CHUNKS ? 16 : 0;
    for (Py_ssize_t qi = 0; qi < nq; qi++) {
        const uint64_t *qw = q + 4 * qi;
        for (int c = 0; c < MIH_CHUNKS; c++) {
            uint32_t value = (uint32_t)(qw[c / 4] >> (48 - 16 * (c % 4))) & 0xFFFF;
            const int32_t *tc = tab + (Py_ssize_t)c * MIH_BUCKETS, *oc = ord + (Py_ssize_t)c * n;
            for (int f = -1; f < flips; f++) {
                uint32_t v = f < 0 ? value : value ^ (1u << f);
                int32_t lo = tc[v], hi = tc[v + 1];
                /* each candidate is a random 32-byte read: keep MIH_AHEAD of them in flight (prefetching a whole
                 * bucket at once, hundreds of rows in a large segment, overran the CPU's miss queue) */
                for (int32_t j = lo; j < hi && j < lo + MIH_AHEAD; j++) PREFETCH(h + 4 * (Py_ssize_t)oc[j]);
                for (int32_t j = lo; j < hi; j++) {
                    if (j + MIH_AHEAD < hi) PREFETCH(h + 4 * (Py_ssize_t)oc[j + MIH_AHEAD]);
                    Py_ssize_t row = oc[j];
                    int d = pdq_distance4(h + 4 * row, qw);
                    if (d <= max_distance && triples_add(&found, qi, row, d) < 0) goto done;
                }
            }
        }
    }
    result = triples_result(&found);
done:
    PyBuffer_Release(&pdq), PyBuffer_Release(&table), PyBuffer_Release(&order), PyBuffer_Release(&query);
    free(found.p);
    return result;
}

/* mih_wide_search(pdq, table, order, value, query, max_distance, table_bits) -> as mih_search, for a large
 * segment.
 *
 * With 16 chunks of 16 bits a bucket holds n / 65,536 rows, so a query's ~270 probes read a number of rows that
 * grows with n (79,000 at 1.9 x 10^7 hashes). Here the hash is cut into 11 chunks of 23 or 24 bits (widths and
 * offsets as segment.WIDE_WIDTHS): at most 32 differing bits leave some chunk with at most two (11 x 3 > 32),
 * so probing each chunk's value and every variant one or two bits away (up to 301 per chunk) finds every row
 * within the distance, and a bucket holds n / 2^23 rows. value: (11, n) uint32, each chunk's values sorted;
 * order: (11, n) int32, the rows in that order; table: (11, 2^table_bits + 1) int32, where the rows whose
 * chunk value starts with the table_bits-bit prefix p are value[c][table[c][p]:table[c][p + 1]].
 *
 * Every probe is a few dependent random reads (table, values, order, hash), so the search runs in stages
 * over all of a query's probes, each stage prefetching MIH_AHEAD reads of the next ahead of the one it does. */
#define MIHW_CHUNKS 11
#define MIHW_MAX_PROBES (MIHW_CHUNKS * (1 + 24 + 24 * 23 / 2))
static const int MIHW_OFFSET[MIHW_CHUNKS] = {0, 24, 48, 72, 95, 118, 141, 164, 187, 210, 233};
static const int MIHW_WIDTH[MIHW_CHUNKS] = {24, 24, 24, 23, 23, 23, 23, 23, 23, 23, 23};

static inline uint32_t mihw_chunk(const uint64_t *w, int c) {
    int o = MIHW_OFFSET[c], width = MIHW_WIDTH[c], i = o / 64, b = o % 64;
    uint64_t v = b + width <= 64 ? w[i] >> (64 - b - width) : (w[i] << (b + width - 64)) | (w[i + 1] >> (128 - b - width));
    return (uint32_t)(v & ((1ULL << width) - 1));
}

static PyObject *mih_wide_search(PyObject *self, PyObject *args) {
    Py_buffer pdq = {0}, table = {0}, order = {0}, value = {0}, query = {0};
    int max_distance, bits;
    PyObject *result = NULL;
    Triples found = {0};
    uint32_t *pv = NULL;
    uint8_t *pc = NULL;
    int32_t *lo = NULL, *hi = NULL;
    int64_t *hits = NULL; /* (chunk, position) packed as chunk * n + position, then rows */
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*ii", &pdq, &table, &order, &value, &query, &max_distance, &bits))
        return NULL;
    Py_ssize_t n = pdq.len / 32, nq = query.len / 32, buckets = bits >= 1 && bits <= 23 ? (1 << bits) + 1 : 0;
    if (buckets == 0 || table.len != (Py_ssize_t)MIHW_CHUNKS * buckets * 4 ||
        order.len != (Py_ssize_t)MIHW_CHUNKS * n * 4 || value.len != (Py_ssize_t)MIHW_CHUNKS * n * 4 ||
        max_distance < 0 || max_distance >= 3 * MIHW_CHUNKS) {
        PyErr_SetString(PyExc_ValueError, "mih_wide_search: arrays of the wrong shape, or a distance over 32");
        goto done;
    }
    const uint64_t *h = pdq.buf, *q = query.buf;
    const int32_t *tab = table.buf, *ord = order.buf;
    const uint32_t *val = value.buf;
    int flips = max_distance / MIHW_CHUNKS;
    Py_ssize_t hcap = 1024;
    pv = malloc(MIHW_MAX_PROBES * sizeof(uint32_t)), pc = malloc(MIHW_MAX_PROBES);
    lo = malloc(MIHW_MAX_PROBES * sizeof(int32_t)), hi = malloc(MIHW_MAX_PROBES * sizeof(int32_t));
    hits = malloc(hcap * sizeof(int64_t));
    if (!pv || !pc || !lo || !hi || !hits) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t qi = 0; qi < nq; qi++) {
        const uint64_t *qw = q + 4 * qi;
        int np_ = 0;
        for (int c = 0; c < MIHW_CHUNKS; c++) { /* the probes: each chunk's value and its variants */
            uint32_t v = mihw_chunk(qw, c);
            int width = MIHW_WIDTH[c];
            pv[np_] = v, pc[np_++] = (uint8_t)c;
            for (int i = 0; flips >= 1 && i < width; i++) {
                pv[np_] = v ^ (1u << i), pc[np_++] = (uint8_t)c;
                for (int j = i + 1; flips >= 2 && j < width; j++) pv[np_] = v ^ (1u << i) ^ (1u << j), pc[np_++] = (uint8_t)c;
            }
        }
#define MIHW_BUCKET(k) (tab + (Py_ssize_t)pc[k] * buckets + (pv[k] >> (MIHW_WIDTH[pc[k]] - bits)))
        for (int k = 0; k < np_ && k < MIH_AHEAD; k++) PREFETCH(MIHW_BUCKET(k));
        for (int k = 0; k < np_; k++) { /* stage 1: each probe's prefix bucket */
            if (k + MIH_AHEAD < np_) PREFETCH(MIHW_BUCKET(k + MIH_AHEAD));
            const int32_t *b = MIHW_BUCKET(k);
            lo[k] = b[0], hi[k] = b[1];
        }
#undef MIHW_BUCKET
        for (int k = 0; k < np_ && k < MIH_AHEAD; k++) PREFETCH(val + (Py_ssize_t)pc[k] * n + lo[k]);
        Py_ssize_t nh = 0;
        for (int k = 0; k < np_; k++) { /* stage 2: the positions in the bucket holding exactly the probed value */
            if (k + MIH_AHEAD < np_) PREFETCH(val + (Py_ssize_t)pc[k + MIH_AHEAD] * n + lo[k + MIH_AHEAD]);
            const uint32_t *vc = val + (Py_ssize_t)pc[k] * n;
            int32_t a = lo[k], z = hi[k];
            while (a < z) { /* lower bound of pv[k] */
                int32_t mid = a + (z - a) / 2;
                if (vc[mid] < pv[k]) a = mid + 1;
                else z = mid;
            }
            for (; a < hi[k] && vc[a] == pv[k]; a++) {
                if (nh == hcap) {
                    int64_t *grown = realloc(hits, hcap * 2 * sizeof(int64_t));
                    if (!grown) {
                        PyErr_NoMemory();
                        goto done;
                    }
                    hits = grown, hcap *= 2;
                }
                hits[nh++] = (int64_t)pc[k] * n + a;
            }
        }
        for (Py_ssize_t k = 0; k < nh && k < MIH_AHEAD; k++) PREFETCH(ord + hits[k]);
        for (Py_ssize_t k = 0; k < nh; k++) { /* stage 3: their rows */
            if (k + MIH_AHEAD < nh) PREFETCH(ord + hits[k + MIH_AHEAD]);
            hits[k] = ord[hits[k]];
        }
        for (Py_ssize_t k = 0; k < nh && k < MIH_AHEAD; k++) PREFETCH(h + 4 * hits[k]);
        for (Py_ssize_t k = 0; k < nh; k++) { /* stage 4: their distances */
            if (k + MIH_AHEAD < nh) PREFETCH(h + 4 * hits[k + MIH_AHEAD]);
            int d = pdq_distance4(h + 4 * hits[k], qw);
            if (d <= max_distance && triples_add(&found, qi, hits[k], d) < 0) goto done;
        }
    }
    result = triples_result(&found);
done:
    PyBuffer_Release(&pdq), PyBuffer_Release(&table), PyBuffer_Release(&order), PyBuffer_Release(&value);
    PyBuffer_Release(&query);
    free(found.p), free(pv), free(pc), free(lo), free(hi), free(hits);
    return result;
}

/* ---- iscc-core's MinHash (registry.iscc and registry.iscc_data) ------------------------------------------
 *
 * Both similarity hashes of a registered text are a 64-permutation MinHash of 32-bit xxh32 features:
 * iscc-core's alg_minhash keeps, per permutation (a, b), min(((a*f + b) mod 2**64) mod (2**61 - 1) & 0xFFFFFFFF).
 * The permutation constants come from the caller (iscc-core's own). The Mersenne fold is exact: with
 * x < 2**64, (x & P) + (x >> 61) <= P + 7, so one conditional subtraction gives x mod P. */
#define MH_PERMS 64
#define MH_PRIME 0x1FFFFFFFFFFFFFFFULL

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static inline uint32_t read_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* xxh32 with seed 0 (xxHash's reference algorithm). */
static uint32_t xxh32(const uint8_t *p, size_t len) {
    const uint32_t P1 = 2654435761U, P2 = 2246822519U, P3 = 3266489917U, P4 = 668265263U, P5 = 374761393U;
    const uint8_t *end = p + len;
    uint32_t h;
    if (len >= 16) {
        const uint8_t *limit = end - 16;
        uint32_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = 0U - P1;
        do {
            v1 = rotl32(v1 + read_le32(p) * P2, 13) * P1;
            v2 = rotl32(v2 + read_le32(p + 4) * P2, 13) * P1;
            v3 = rotl32(v3 + read_le32(p + 8) * P2, 13) * P1;
            v4 = rotl32(v4 + read_le32(p + 12) * P2, 13) * P1;
            p += 16;
        } while (p <= limit);
        h = rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18);
    } else {
        h = P5;
    }
    h += (uint32_t)len;
    for (; p + 4 <= end; p += 4) h = rotl32(h + read_le32(p) * P3, 17) * P4;
    for (; p < end; p++) h = rotl32(h + (uint32_t)*p * P5, 11) * P1;
    h ^= h >> 15;
    h *= P2;
    h ^= h >> 13;
    h *= P3;
    h ^= h >> 16;
    return h;
}

static inline uint32_t minhash_exact(uint64_t a, uint64_t b, uint32_t f) {
    uint64_t x = a * f + b; /* wraps: iscc-core's & MAXI64 */
    uint64_t r = (x & MH_PRIME) + (x >> 61);
    return (uint32_t)(r >= MH_PRIME ? r - MH_PRIME : r);
}

/* mins[k] = min(mins[k], min over features of permutation k's hash).
 *
 * As iscc._minhash does with numpy: the hash of x = a*f + b is u + (x >> 61) for u the low 32 bits of x (the
 * fold adds 0 to 7) unless u >= 2**32 - 8, where the fold may carry or subtract. With w = u + 8 (mod 2**32),
 * computed in 32-bit arithmetic, those "risky" features have w < 8 and every other hash lies in [w - 8, w - 1].
 * One pass keeps, for all 64 permutations at once (the inner loop vectorises), each one's smallest w, its
 * feature and the runner-up w. Where the smallest is at least 8 and the runner-up more than 7 above it, that
 * feature's hash is the minimum, computed exactly; otherwise (a duplicated n-gram, common in real text; a near
 * tie or a risky feature, rare) every feature that could still be the minimum is. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
/* AVX2's 8 lanes with a native 32-bit multiply and unsigned minimum where the CPU has them (chosen at load) */
__attribute__((target_clones("avx2", "default")))
#endif
static void minhash_update(const uint32_t *features, Py_ssize_t n, const uint64_t *mpa, const uint64_t *mpb,
                           uint32_t *mins) {
    uint32_t a32[MH_PERMS], b32[MH_PERMS], m1[MH_PERMS], m2[MH_PERMS], f1[MH_PERMS];
    for (int k = 0; k < MH_PERMS; k++) {
        a32[k] = (uint32_t)mpa[k];
        b32[k] = (uint32_t)mpb[k] + 8U;
        m1[k] = m2[k] = 0xFFFFFFFFU;
        f1[k] = 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint32_t f = features[i];
        for (int k = 0; k < MH_PERMS; k++) {
            uint32_t w = a32[k] * f + b32[k];
            int lower = w < m1[k];
            uint32_t hi = lower ? m1[k] : w;
            m2[k] = hi < m2[k] ? hi : m2[k];
            f1[k] = lower ? f : f1[k];
            m1[k] = lower ? w : m1[k];
        }
    }
    for (int k = 0; k < MH_PERMS; k++) {
        const uint64_t a = mpa[k], b = mpb[k];
        uint32_t m = mins[k];
        if (n == 0) continue;
        if (m1[k] >= 8 && (uint64_t)m2[k] > (uint64_t)m1[k] + 7) {
            uint32_t h = minhash_exact(a, b, f1[k]);
            m = h < m ? h : m;
        } else {
            const uint64_t bound = m1[k] < 8 ? 0xFFFFFFFFU : (uint64_t)m1[k] + 7;
            for (Py_ssize_t i = 0; i < n; i++) {
                if ((uint64_t)(a32[k] * features[i] + b32[k]) <= bound) {
                    uint32_t h = minhash_exact(a, b, features[i]);
                    m = h < m ? h : m;
                }
            }
        }
        mins[k] = m;
    }
}

/* The permutation constants as two buffers of MH_PERMS uint64; 0 and an exception when they are not. */
static int permutations(Py_buffer *mpa, Py_buffer *mpb) {
    if (mpa->len != MH_PERMS * 8 || mpb->len != MH_PERMS * 8) {
        PyErr_Format(PyExc_ValueError, "the permutations are %d uint64 each", MH_PERMS);
        return 0;
    }
    return 1;
}

/* iscc_minhash(features, mpa, mpb) -> bytes of 64 uint32: iscc-core's alg_minhash of uint32 features (at least
 * one), the step both hashes below end with, on its own for the tests. */
static PyObject *iscc_minhash(PyObject *self, PyObject *args) {
    Py_buffer features = {0}, mpa = {0}, mpb = {0};
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*", &features, &mpa, &mpb)) return NULL;
    if (!permutations(&mpa, &mpb)) goto done;
    if (features.len < 4 || features.len % 4) {
        PyErr_SetString(PyExc_ValueError, "features are one or more uint32");
        goto done;
    }
    uint32_t mins[MH_PERMS];
    for (int k = 0; k < MH_PERMS; k++) mins[k] = 0xFFFFFFFFU;
    minhash_update((const uint32_t *)features.buf, features.len / 4, (const uint64_t *)mpa.buf,
                   (const uint64_t *)mpb.buf, mins);
    result = PyBytes_FromStringAndSize((const char *)mins, sizeof mins);
done:
    PyBuffer_Release(&features);
    PyBuffer_Release(&mpa);
    PyBuffer_Release(&mpb);
    return result;
}

/* iscc_text_minhash(utf8, ngram, mpa, mpb) -> bytes of 64 uint32: iscc-core's alg_minhash of the xxh32 of
 * the UTF-8 of every window of `ngram` characters of a collapsed text (one window of the whole text, the
 * empty text included, when it is shorter), as iscc.soft_hash_text computes them with numpy. */
static PyObject *iscc_text_minhash(PyObject *self, PyObject *args) {
    Py_buffer text = {0}, mpa = {0}, mpb = {0};
    Py_ssize_t ngram;
    PyObject *result = NULL;
    Py_ssize_t *starts = NULL;
    uint32_t *features = NULL;
    if (!PyArg_ParseTuple(args, "y*ny*y*", &text, &ngram, &mpa, &mpb)) return NULL;
    if (!permutations(&mpa, &mpb)) goto done;
    if (ngram < 1) {
        PyErr_SetString(PyExc_ValueError, "ngram must be at least 1");
        goto done;
    }
    const uint8_t *s = (const uint8_t *)text.buf;
    Py_ssize_t len = text.len, chars = 0;
    starts = (Py_ssize_t *)malloc(sizeof(Py_ssize_t) * (size_t)(len + 1));
    if (starts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) starts[chars++] = i;
    starts[chars] = len;
    Py_ssize_t windows = chars - ngram + 1 > 1 ? chars - ngram + 1 : 1;
    Py_ssize_t span = chars < ngram ? chars : ngram;
    features = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)windows);
    if (features == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < windows; i++)
        features[i] = xxh32(s + starts[i], (size_t)(starts[i + span] - starts[i]));
    uint32_t mins[MH_PERMS];
    for (int k = 0; k < MH_PERMS; k++) mins[k] = 0xFFFFFFFFU;
    minhash_update(features, windows, (const uint64_t *)mpa.buf, (const uint64_t *)mpb.buf, mins);
    result = PyBytes_FromStringAndSize((const char *)mins, sizeof mins);
done:
    free(starts);
    free(features);
    PyBuffer_Release(&text);
    PyBuffer_Release(&mpa);
    PyBuffer_Release(&mpb);
    return result;
}

/* iscc_data_minhash(data, gear, min_size, max_size, center_size, mask_s, mask_l, mpa, mpb) -> bytes of 64
 * uint32: iscc-core's alg_minhash of the xxh32 of every chunk that its content-defined chunking
 * (alg_cdc_chunks, FastCDC with a 256-entry uint32 gear table) cuts `data` into; the empty data is one
 * empty chunk. iscc-core's gear hash is a Python int: (p >> 1) + gear[byte] stays below 2**33, exact here. */
static PyObject *iscc_data_minhash(PyObject *self, PyObject *args) {
    Py_buffer data = {0}, gear = {0}, mpa = {0}, mpb = {0};
    Py_ssize_t mi, ma, cs;
    unsigned long long mask_s, mask_l;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*y*nnnKKy*y*", &data, &gear, &mi, &ma, &cs, &mask_s, &mask_l, &mpa, &mpb))
        return NULL;
    if (!permutations(&mpa, &mpb)) goto done;
    if (gear.len != 256 * 4) {
        PyErr_SetString(PyExc_ValueError, "the gear table is 256 uint32");
        goto done;
    }
    const uint8_t *s = (const uint8_t *)data.buf;
    const uint32_t *g = (const uint32_t *)gear.buf;
    const uint64_t *a = (const uint64_t *)mpa.buf, *b = (const uint64_t *)mpb.buf;
    uint32_t mins[MH_PERMS];
    for (int k = 0; k < MH_PERMS; k++) mins[k] = 0xFFFFFFFFU;
    if (data.len == 0) {
        uint32_t f = xxh32(s, 0);
        minhash_update(&f, 1, a, b, mins);
    }
    Py_ssize_t pos = 0;
    uint32_t batch[64];
    int nbatch = 0;
    while (pos < data.len) {
        const uint8_t *buf = s + pos;
        Py_ssize_t size = data.len - pos, i = mi < size ? mi : size, cut = -1;
        Py_ssize_t barrier = cs < size ? cs : size;
        uint64_t pattern = 0;
        for (; i < barrier; i++) {
            pattern = (pattern >> 1) + g[buf[i]];
            if (!(pattern & mask_s)) {
                cut = i + 1;
                break;
            }
        }
        if (cut < 0) {
            barrier = ma < size ? ma : size;
            for (; i < barrier; i++) {
                pattern = (pattern >> 1) + g[buf[i]];
                if (!(pattern & mask_l)) {
                    cut = i + 1;
                    break;
                }
            }
        }
        if (cut < 0) cut = i;
        batch[nbatch++] = xxh32(buf, (size_t)cut);
        if (nbatch == 64) {
            minhash_update(batch, nbatch, a, b, mins);
            nbatch = 0;
        }
        pos += cut;
    }
    if (nbatch) minhash_update(batch, nbatch, a, b, mins);
    result = PyBytes_FromStringAndSize((const char *)mins, sizeof mins);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&gear);
    PyBuffer_Release(&mpa);
    PyBuffer_Release(&mpb);
    return result;
}

/* ---- iscc-core's image DCT (registry.iscc_image) -------------------------------------------------------
 *
 * iscc_image._dct's recursion (nayuki's fast DCT, Lee's algorithm, as iscc-core's alg_dct) on one vector: the
 * same sums, differences and divisions by the same factors in the same order, so the same doubles (no
 * multiply-add is fused: the recursion has none). fac holds each level's factors, n = 32 first: 16, 8, 4, 2, 1
 * values. */
static void lee_dct(const double *v, double *out, int n, const double *fac) {
    if (n == 1) {
        out[0] = v[0];
        return;
    }
    int half = n / 2;
    double a[16], b[16], alpha[16], beta[16];
    for (int i = 0; i < half; i++) {
        a[i] = v[i] + v[n - 1 - i];
        b[i] = (v[i] - v[n - 1 - i]) / fac[i];
    }
    lee_dct(a, alpha, half, fac + half);
    lee_dct(b, beta, half, fac + half);
    for (int i = 0; i < half - 1; i++) {
        out[2 * i] = alpha[i];
        out[2 * i + 1] = beta[i] + beta[i + 1];
    }
    out[n - 2] = alpha[half - 1];
    out[n - 1] = beta[half - 1];
}

/* iscc_dct32(pixels, factors) -> bytes of 32x32 float64: the DCT of each row of 32x32 uint8 pixels, then of
 * each column of that (iscc_image.soft_hash_image's matrix); factors: the 31 doubles of iscc_image._factors
 * for n = 32, 16, 8, 4, 2, concatenated. */
static PyObject *iscc_dct32(PyObject *self, PyObject *args) {
    Py_buffer pixels = {0}, factors = {0};
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*y*", &pixels, &factors)) return NULL;
    if (pixels.len != 32 * 32 || factors.len != 31 * 8) {
        PyErr_SetString(PyExc_ValueError, "32x32 uint8 pixels and 31 float64 factors");
        goto done;
    }
    const uint8_t *px = (const uint8_t *)pixels.buf;
    const double *fac = (const double *)factors.buf;
    double rows[32][32], col[32], dcol[32], matrix[32][32];
    for (int r = 0; r < 32; r++) {
        double v[32];
        for (int c = 0; c < 32; c++) v[c] = (double)px[r * 32 + c];
        lee_dct(v, rows[r], 32, fac);
    }
    for (int c = 0; c < 32; c++) {
        for (int r = 0; r < 32; r++) col[r] = rows[r][c];
        lee_dct(col, dcol, 32, fac);
        for (int r = 0; r < 32; r++) matrix[r][c] = dcol[r];
    }
    result = PyBytes_FromStringAndSize((const char *)matrix, sizeof matrix);
done:
    PyBuffer_Release(&pixels);
    PyBuffer_Release(&factors);
    return result;
}

/* PDQ of a 64x64 image (Meta's PDQ paper, 2019; the reference's float operations, in its order, so that
 * every bit and the quality equal the pdqhash binding's; the tests compare them on random and real images).
 * For a 64x64 input the reference skips its tent filter: luminance, the image-domain quality, the 16x16
 * low-frequency block of the 2D DCT (D A D^T with D the 16x64 DCT-II rows 1..16), each coefficient's bit set
 * when it is above the block's median (the 128th smallest of 256). Float sums run over k in the same order as
 * the reference's; the loops are arranged so the compiler vectorises across the independent outputs
 * (setup.py compiles with -ffp-contract=off, so no multiply-add is fused and the roundings stay the same). */
static float pdq_matrix[16][64]; /* D */
static float pdq_matrix_t[64][16]; /* D^T */
static int pdq_ready = 0;

static void pdq_init(void) {
    const float scale = (float)sqrt(2.0 / 64.0);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++) {
            float v = (float)(scale * cos((3.14159265358979323846 / 2.0 / 64.0) * (double)(i + 1) * (double)(2 * j + 1)));
            pdq_matrix[i][j] = v;
            pdq_matrix_t[j][i] = v;
        }
    pdq_ready = 1;
}

/* the k-th smallest of n floats (k 0-based), reordering v */
static float select_kth(float *v, int n, int k) {
    int lo = 0, hi = n - 1;
    while (hi > lo) {
        float pivot = v[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

/* pdq64(pixels) -> (32 bytes, quality): pixels 64*64*3 uint8 RGB, row-major; byte b of the hash holds bits
 * 255 - 8b .. 248 - 8b of the reference's Hash256, most significant first (imagefp's packing). */
/* pdq64's work: the hash's 32 bytes (zeroed by the caller) and the quality of 64x64 RGB pixels */
SIMD_CLONES static int pdq_compute(const uint8_t *px, uint8_t *hash) {
    float a[64][64], t[16][64];
    float b[16][16], sorted[256];
    for (int i = 0; i < 64 * 64; i++) {
        /* the binding's numpy luminance: float64 products summed left to right, then rounded to float */
        double y = (double)px[3 * i] * 0.299 + (double)px[3 * i + 1] * 0.587;
        y += (double)px[3 * i + 2] * 0.114;
        a[i / 64][i % 64] = (float)y;
    }
    int gradient = 0;
    for (int i = 0; i < 63; i++)
        for (int j = 0; j < 64; j++) {
            int d = (int)(((a[i][j] - a[i + 1][j]) * 100.0f) / 255.0f);
            gradient += d < 0 ? -d : d;
        }
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 63; j++) {
            int d = (int)(((a[i][j] - a[i][j + 1]) * 100.0f) / 255.0f);
            gradient += d < 0 ? -d : d;
        }
    int quality = gradient / 90;
    if (quality > 100) quality = 100;
    for (int i = 0; i < 16; i++) { /* T = D A: t[i][j] = sum over k of D[i][k] A[k][j], k ascending */
        for (int j = 0; j < 64; j++) t[i][j] = 0.0f;
        for (int k = 0; k < 64; k++) {
            const float d = pdq_matrix[i][k];
            for (int j = 0; j < 64; j++) t[i][j] += d * a[k][j];
        }
    }
    for (int i = 0; i < 16; i++) { /* B = T D^T: b[i][j] = sum over k of T[i][k] D[j][k], k ascending */
        for (int j = 0; j < 16; j++) b[i][j] = 0.0f;
        for (int k = 0; k < 64; k++) {
            const float v = t[i][k];
            for (int j = 0; j < 16; j++) b[i][j] += v * pdq_matrix_t[k][j];
        }
    }
    memcpy(sorted, b, sizeof sorted);
    const float median = select_kth(sorted, 256, 127);
    for (int k = 0; k < 256; k++) {
        if (b[k / 16][k % 16] > median) {
            int m = 255 - k;
            hash[m >> 3] |= (uint8_t)(0x80 >> (m & 7));
        }
    }
    return quality;
}

static PyObject *pdq64(PyObject *self, PyObject *args) {
    Py_buffer pixels = {0};
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*", &pixels)) return NULL;
    if (pixels.len != 64 * 64 * 3) {
        PyErr_SetString(PyExc_ValueError, "64x64 RGB uint8 pixels");
        goto done;
    }
    if (!pdq_ready) pdq_init();
    uint8_t hash[32] = {0};
    int quality = pdq_compute((const uint8_t *)pixels.buf, hash);
    result = Py_BuildValue("y#i", (const char *)hash, (Py_ssize_t)32, quality);
done:
    PyBuffer_Release(&pixels);
    return result;
}

/* ---- Pillow's resampling to 64x64 (matching.imagefp._reduced) -------------------------------------------
 *
 * Image.resize((64, 64), BICUBIC or BOX) of a crop of an RGB image, computed as Pillow 13's
 * libImaging/Resample.c computes it: its coefficients in double, normalised to 22-bit fixed point, then two
 * passes, horizontal first (over only the rows the vertical pass reads) unless the height shrinks more than
 * twice as much as the width, each sum rounded and clipped to 8 bits. So the bytes are Pillow's: an image's
 * index entry cuts and reduces 18 crops, and PIL spent ~50 us on each, more than the PDQ of the result. The
 * tests compare every byte with the installed Pillow's on random images, sizes and crops. */
#define RS_PRECISION 22

static double rs_bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double rs_box(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

/* Pillow's precompute_coeffs for in0 = 0, in1 = in_size (a crop resized whole), then normalize_coeffs_8bpc:
 * bounds[2 * xx] the first input pixel, bounds[2 * xx + 1] how many; kk[xx * ksize + i] their fixed-point
 * weights. Returns ksize, or 0 when the buffers do not fit (the caller's arrays are sized for it). */
static int rs_coeffs(int in_size, int out_size, int bicubic, int *bounds, int32_t *kk, double *tmp, int cap) {
    double (*filter)(double) = bicubic ? rs_bicubic : rs_box;
    double support, scale, filterscale;
    filterscale = scale = (double)((float)in_size - 0.0f) / out_size;
    if (filterscale < 1.0) filterscale = 1.0;
    support = (bicubic ? 2.0 : 0.5) * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    if (ksize * out_size > cap) return 0;
    double inv_filterscale = 1.0 / filterscale;
    for (int xx = 0; xx < out_size; xx++) {
        double center = 0.0f + (xx + 0.5) * scale;
        double ww = 0.0;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = &tmp[xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = filter((x + xmin - center + 0.5) * inv_filterscale);
            k[x] = w;
            ww += w;
        }
        if (ww != 0.0)
            for (x = 0; x < xmax; x++) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (int i = 0; i < out_size * ksize; i++)
        kk[i] = tmp[i] < 0 ? (int32_t)(-0.5 + tmp[i] * (1 << RS_PRECISION)) : (int32_t)(0.5 + tmp[i] * (1 << RS_PRECISION));
    return ksize;
}

static inline uint8_t rs_clip8(int32_t v) {
    v >>= RS_PRECISION;
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* One pass of the resampling along the axis whose lines start stride bytes apart: output line o (of 64) is the
 * weighted sum of input lines bounds[2o] .. bounds[2o] + bounds[2o + 1] - 1, len bytes each. The inner loop
 * runs over the bytes of a line, which are independent, so the compiler vectorises it; integer sums do not
 * depend on their order, so the result is Pillow's, whose loops run the other way round. */
SIMD_CLONES static void rs_pass(const uint8_t *src, size_t stride, size_t len, const int *bounds, const int32_t *kk, int ksize,
                    uint8_t *dst, int32_t *acc) {
    for (int o = 0; o < 64; o++) {
        for (size_t c = 0; c < len; c++) acc[c] = 1 << (RS_PRECISION - 1);
        const int32_t *k = kk + o * ksize;
        for (int t = 0; t < bounds[2 * o + 1]; t++) {
            const uint8_t *line = src + (size_t)(bounds[2 * o] + t) * stride;
            const int32_t w = k[t];
            for (size_t c = 0; c < len; c++) acc[c] += line[c] * w;
        }
        uint8_t *out = dst + (size_t)o * len;
        for (size_t c = 0; c < len; c++) out[c] = rs_clip8(acc[c]);
    }
}

/* dst[c][r] = src[r][c] for RGB pixels: rows x cols pixels whose rows start stride bytes apart */
static void rs_transpose(const uint8_t *src, size_t stride, int rows, int cols, uint8_t *dst) {
    for (int r = 0; r < rows; r++) {
        const uint8_t *line = src + (size_t)r * stride;
        for (int c = 0; c < cols; c++) memcpy(dst + ((size_t)c * rows + r) * 3, line + (size_t)c * 3, 3);
    }
}

/* reduce64(pixels, width, height, boxes) -> bytes: pixels height x width x 3 uint8 RGB, boxes n x 4 int32
 * (left, top, right, bottom, pixels, right and bottom exclusive); for each box, its crop resized to 64x64 as
 * matching.imagefp._reduced does (BICUBIC when a side of the crop is under 64, else BOX): n x 64 x 64 x 3 uint8.
 * A box that leaves the image or is empty is refused. The horizontal pass runs over the transposed image (made
 * once a call), so both passes read whole lines. */
static PyObject *reduce64(PyObject *self, PyObject *args) {
    Py_buffer pixels = {0}, boxes = {0};
    int width, height;
    PyObject *result = NULL;
    int32_t *kh = NULL, *kv = NULL, *acc = NULL;
    double *tmp = NULL;
    uint8_t *mid = NULL, *mid2 = NULL, *transposed = NULL;
    if (!PyArg_ParseTuple(args, "y*iiy*", &pixels, &width, &height, &boxes)) return NULL;
    if (width < 1 || height < 1 || width > 16384 || height > 16384 || pixels.len != (Py_ssize_t)width * height * 3) {
        PyErr_SetString(PyExc_ValueError, "pixels must be height x width x 3 uint8 (sides 1..16384)");
        goto done;
    }
    if (boxes.len % 16) {
        PyErr_SetString(PyExc_ValueError, "boxes must be n x 4 int32");
        goto done;
    }
    Py_ssize_t n = boxes.len / 16;
    const int32_t *bx = (const int32_t *)boxes.buf;
    for (Py_ssize_t b = 0; b < n; b++) {
        const int32_t *q = bx + 4 * b;
        if (q[0] < 0 || q[1] < 0 || q[2] > width || q[3] > height || q[2] <= q[0] || q[3] <= q[1]) {
            PyErr_Format(PyExc_ValueError, "box %zd (%d, %d, %d, %d) is empty or leaves the %dx%d image", b, q[0],
                         q[1], q[2], q[3], width, height);
            goto done;
        }
    }
    /* coefficients per axis: ksize x 64, ksize = 2 * ceil(support) + 1, support at most 2 * side / 64 */
    int side = width > height ? width : height;
    int cap = (2 * (2 * side / 64 + 2) + 1) * 64;
    size_t line_max = (size_t)3 * (side > 64 ? side : 64);
    kh = malloc(sizeof(int32_t) * cap);
    kv = malloc(sizeof(int32_t) * cap);
    tmp = malloc(sizeof(double) * cap);
    acc = malloc(sizeof(int32_t) * line_max);
    mid = malloc(64 * line_max);
    mid2 = malloc(64 * line_max);
    result = PyBytes_FromStringAndSize(NULL, n * 64 * 64 * 3);
    if (!kh || !kv || !tmp || !acc || !mid || !mid2 || !result) {
        Py_CLEAR(result);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    const uint8_t *px = (const uint8_t *)pixels.buf;
    const size_t row_bytes = (size_t)width * 3, column_bytes = (size_t)height * 3;
    int bounds_h[128], bounds_v[128];
    int last_w = -1, last_h = -1, ksh = 0, ksv = 0;
    for (Py_ssize_t b = 0; b < n; b++) {
        const int32_t *q = bx + 4 * b;
        int cw = q[2] - q[0], ch = q[3] - q[1];
        if (cw != last_w || ch != last_h) { /* the grid's crops share their sizes: coefficients once a size */
            int bicubic = (cw < ch ? cw : ch) < 64;
            ksh = rs_coeffs(cw, 64, bicubic, bounds_h, kh, tmp, cap);
            ksv = rs_coeffs(ch, 64, bicubic, bounds_v, kv, tmp, cap);
            if (!ksh || !ksv) {
                PyErr_SetString(PyExc_ValueError, "crop too large to reduce");
                Py_CLEAR(result);
                goto done;
            }
            last_w = cw;
            last_h = ch;
        }
        uint8_t *o = out + b * 64 * 64 * 3;
        /* Pillow 13 runs the vertical pass first where the height shrinks more than twice as much as the width
         * (Pillow 10-12 always ran the horizontal one first: a tall crop's bytes differ between them) */
        int horizontal_first = !((ch - 64) > 0 && (ch - 64) > (cw - 64) * 2);
        if (horizontal_first) {
            if (!transposed) {
                transposed = malloc((size_t)width * height * 3);
                if (!transposed) {
                    Py_CLEAR(result);
                    PyErr_NoMemory();
                    goto done;
                }
                rs_transpose(px, row_bytes, height, width, transposed);
            }
            /* only the rows the vertical pass reads, as Pillow's ybox_first .. ybox_last */
            int y_first = bounds_v[0], rows = bounds_v[126] + bounds_v[127] - y_first;
            const uint8_t *src = transposed + (size_t)q[0] * column_bytes + (size_t)(q[1] + y_first) * 3;
            rs_pass(src, column_bytes, (size_t)rows * 3, bounds_h, kh, ksh, mid, acc); /* 64 columns of rows */
            rs_transpose(mid, (size_t)rows * 3, 64, rows, mid2);                        /* rows x 64 */
            int shifted[128];
            for (int i = 0; i < 64; i++) {
                shifted[2 * i] = bounds_v[2 * i] - y_first;
                shifted[2 * i + 1] = bounds_v[2 * i + 1];
            }
            rs_pass(mid2, 64 * 3, 64 * 3, shifted, kv, ksv, o, acc);
        } else {
            const uint8_t *src = px + (size_t)q[1] * row_bytes + (size_t)q[0] * 3;
            rs_pass(src, row_bytes, (size_t)cw * 3, bounds_v, kv, ksv, mid, acc); /* 64 rows of cw pixels */
            rs_transpose(mid, (size_t)cw * 3, 64, cw, mid2);                     /* cw x 64 */
            rs_pass(mid2, 64 * 3, 64 * 3, bounds_h, kh, ksh, mid, acc);           /* 64 columns of 64 rows */
            rs_transpose(mid, 64 * 3, 64, 64, o);
        }
    }
done:
    free(kh);
    free(kv);
    free(tmp);
    free(acc);
    free(mid);
    free(mid2);
    free(transposed);
    PyBuffer_Release(&pixels);
    PyBuffer_Release(&boxes);
    return result;
}

static PyMethodDef methods[] = {
    {"iscc_dct32", iscc_dct32, METH_VARARGS, "iscc_dct32(pixels, factors) -> the 32x32 DCT as bytes of float64"},
    {"reduce64", reduce64, METH_VARARGS,
     "reduce64(pixels, width, height, boxes) -> each box's crop of height x width RGB pixels resized to 64x64 "
     "as PIL does (BICUBIC under 64, else BOX)"},
    {"pdq64", pdq64, METH_VARARGS, "pdq64(pixels) -> (the PDQ hash as 32 bytes, its quality) of 64x64 RGB uint8 pixels"},
    {"iscc_minhash", iscc_minhash, METH_VARARGS, "iscc_minhash(features, mpa, mpb) -> the 64 minima as bytes of uint32"},
    {"iscc_text_minhash", iscc_text_minhash, METH_VARARGS,
     "iscc_text_minhash(utf8, ngram, mpa, mpb) -> the 64 minima as bytes of uint32"},
    {"iscc_data_minhash", iscc_data_minhash, METH_VARARGS,
     "iscc_data_minhash(data, gear, min_size, max_size, center_size, mask_s, mask_l, mpa, mpb) -> the 64 minima "
     "as bytes of uint32"},
    {"mih_search", mih_search, METH_VARARGS,
     "mih_search(pdq, table, order, query, max_distance) -> (rows, query_rows, distances)"},
    {"mih_wide_search", mih_wide_search, METH_VARARGS,
     "mih_wide_search(pdq, table, order, value, query, max_distance, table_bits) -> (rows, query_rows, distances)"},
    {"lookup", lookup, METH_VARARGS, "lookup(keys, directory, needles, max_hits) -> (needle_index, key_index)"},
    {"normalise_ascii", normalise_ascii, METH_VARARGS, "normalise_ascii(text) -> normalised bytes, or None"},
    {"lsh_keys", lsh_keys, METH_VARARGS, "lsh_keys(signature) -> the 16 band keys as bytes of uint64"},
    {"fingerprint", fingerprint, METH_VARARGS,
     "fingerprint(text) -> (starts, ends, token_hashes, kgrams, winnowed) as bytes, or None"},
    {"fingerprint_unicode", fingerprint_unicode, METH_VARARGS,
     "fingerprint_unicode(text, stage1, stage2, expansions, resolve) -> (starts, ends, token_hashes, kgrams, "
     "winnowed) as bytes"},
    {"normalise_unicode", normalise_unicode, METH_VARARGS,
     "normalise_unicode(text, stage1, stage2, expansions) -> normalised UTF-8, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) {
    init_classes();
    return PyModule_Create(&module);
}
