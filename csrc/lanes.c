/*
 * lanes.c - eight modular exponentiations at once on AVX-512 IFMA (52-bit multiply-add).
 *
 * The numbers are stored "vertically": a residue of D 52-bit digits is an array of D vectors,
 * vector j holding digit j of each of the eight lanes, so every lane has its own base, exponent
 * and odd modulus (all of D digits) and the eight Montgomery products of a step are computed
 * by the same instructions, with no movement across lanes. A product is a word-by-word
 * Montgomery multiplication (CIOS) with R = 2^(52 D), two rows at a time so that each pass over
 * the accumulator serves eight multiply-adds; D is chosen so that 4 m < R, which keeps every
 * value below 2m without the final subtraction ("almost Montgomery" products).
 *
 * The exponentiation is a fixed 4-bit window over a length given by the caller, and the table
 * entry of each window is read by a masked scan of the whole table, so the sequence of
 * operations and memory accesses depends on the sizes only: the kernel serves both the public
 * batch (batch.c) and the constant-time one, and the Fermat filter of the prime search.
 *
 * The code runs only when the CPU has AVX-512F and AVX-512 IFMA (checked once at run time) and
 * is not switched off (tss_set_simd, or TSS_NO_SIMD in the environment); the functions that
 * need the instructions are compiled for them alone with target attributes, so the rest of the
 * library still runs on any x86-64. Elsewhere the callers use GMP.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tss_internal.h"

#define MASK52 ((uint64_t)0xFFFFFFFFFFFFF)
#define WIN 4
#define NTAB (1 << WIN)

static int g_have = 0;     /* the CPU has the instructions */
static int g_on = 0;       /* ... and they are in use */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    g_have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
#endif
    g_on = g_have && getenv("TSS_NO_SIMD") == NULL;
}

int tss_lanes_active(void)
{
    pthread_once(&g_once, detect);
    return __atomic_load_n(&g_on, __ATOMIC_RELAXED);
}

int tss_set_simd(int on)
{
    int old;

    pthread_once(&g_once, detect);
    old = __atomic_load_n(&g_on, __ATOMIC_RELAXED);
    if (on >= 0)
        __atomic_store_n(&g_on, on && g_have, __ATOMIC_RELAXED);
    return old | (g_have << 1);
}

size_t tss_lanes_digits(size_t mbits)
{
    return (mbits + 2 + 51) / 52; /* 4 m < 2^(52 D) */
}

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512ifma")))
typedef __m512i V;

#define LO(acc, x, y) _mm512_madd52lo_epu64(acc, x, y)
#define HI(acc, x, y) _mm512_madd52hi_epu64(acc, x, y)
#define ADD(x, y) _mm512_add_epi64(x, y)
#define SHR52(x) _mm512_srli_epi64(x, 52)

/* r = a b / R mod m (every value below 2m), D digits, T: 2D + 2 vectors of scratch.
   r may alias a or b. Two rows of the multiplier per pass over the accumulator. */
static TGT void amm(V *r, const V *a, const V *b, const V *m, V k0, size_t D, V *T)
{
    const V zero = _mm512_setzero_si512(), mask = _mm512_set1_epi64((long long)MASK52);
    size_t i, j;
    V c;

    for (j = 0; j < 2 * D + 2; j++)
        T[j] = zero;
    for (i = 0; i + 1 < D; i += 2) {
        V a0 = a[i], a1 = a[i + 1], *t = T + i, x0, x1, q0, q1, hA, hB, bp, mp, y, z;

        /* column i: row i alone fixes q0 */
        x0 = LO(t[0], a0, b[0]);
        q0 = LO(zero, x0, k0);
        x0 = LO(x0, q0, m[0]);
        /* column i + 1: row i, then row i + 1 fixes q1 */
        x1 = LO(t[1], a0, b[1]);
        x1 = LO(x1, q0, m[1]);
        x1 = HI(x1, a0, b[0]);
        x1 = HI(x1, q0, m[0]);
        x1 = ADD(x1, SHR52(x0));
        x1 = LO(x1, a1, b[0]);
        q1 = LO(zero, x1, k0);
        x1 = LO(x1, q1, m[0]);
        hA = HI(zero, a0, b[1]);
        hA = HI(hA, q0, m[1]);
        hB = HI(zero, a1, b[0]);
        hB = HI(hB, q1, m[0]);
        hB = ADD(hB, SHR52(x1));
        bp = b[1];
        mp = m[1];
        for (j = 2; j < D; j++) {
            V bj = b[j], mj = m[j];

            y = LO(t[j], a0, bj);
            y = LO(y, q0, mj);
            y = LO(y, a1, bp);
            y = LO(y, q1, mp);
            t[j] = ADD(y, ADD(hA, hB));
            hA = HI(zero, a0, bj);
            hA = HI(hA, q0, mj);
            hB = HI(zero, a1, bp);
            hB = HI(hB, q1, mp);
            bp = bj;
            mp = mj;
        }
        y = LO(t[D], a1, bp);
        y = LO(y, q1, mp);
        t[D] = ADD(y, ADD(hA, hB));
        z = HI(t[D + 1], a1, bp);
        t[D + 1] = HI(z, q1, mp);
    }
    if (i < D) { /* odd D: the last row alone */
        V ai = a[i], *t = T + i, x, q, h, y;

        x = LO(t[0], ai, b[0]);
        q = LO(zero, x, k0);
        x = LO(x, q, m[0]);
        h = HI(zero, ai, b[0]);
        h = HI(h, q, m[0]);
        h = ADD(h, SHR52(x));
        for (j = 1; j < D; j++) {
            y = LO(t[j], ai, b[j]);
            y = LO(y, q, m[j]);
            t[j] = ADD(y, h);
            h = HI(zero, ai, b[j]);
            h = HI(h, q, m[j]);
        }
        t[D] = ADD(t[D], h);
    }
    /* the result is T[D..2D): normalise to 52-bit digits */
    c = zero;
    for (j = 0; j < D; j++) {
        V v = ADD(T[D + j], c);

        r[j] = _mm512_and_si512(v, mask);
        c = SHR52(v);
    }
}

/* sel = tab[idx_lane] lane by lane, reading every entry */
static TGT void select_entry(V *sel, const V *tab, size_t D, V idx)
{
    size_t w, j;

    for (j = 0; j < D; j++)
        sel[j] = tab[j];
    for (w = 1; w < NTAB; w++) {
        __mmask8 mk = _mm512_cmpeq_epi64_mask(idx, _mm512_set1_epi64((long long)w));
        const V *ent = tab + w * D;

        for (j = 0; j < D; j++)
            sel[j] = _mm512_mask_mov_epi64(sel[j], mk, ent[j]);
    }
}

/* the 52-bit digits of the n-limb x into lane `lane` of the vertical array v (D digits) */
static void put_digits(uint64_t *v, size_t D, int lane, const mp_limb_t *x, size_t n)
{
    size_t j;

    for (j = 0; j < D; j++) {
        size_t bit = 52 * j, w = bit / 64, s = bit % 64;
        uint64_t d = w < n ? (uint64_t)x[w] >> s : 0;

        if (s > 12 && w + 1 < n)
            d |= (uint64_t)x[w + 1] << (64 - s);
        v[8 * j + (size_t)lane] = d & MASK52;
    }
}

/* the n limbs of lane `lane` of v into x (the value must fit) */
static void get_limbs(mp_limb_t *x, size_t n, const uint64_t *v, size_t D, int lane)
{
    size_t j;

    memset(x, 0, n * sizeof(mp_limb_t));
    for (j = 0; j < D; j++) {
        uint64_t d = v[8 * j + (size_t)lane];
        size_t bit = 52 * j, w = bit / 64, s = bit % 64;

        if (w < n)
            x[w] |= (mp_limb_t)(d << s);
        if (s > 12 && w + 1 < n)
            x[w + 1] |= (mp_limb_t)(d >> (64 - s));
    }
}

static uint64_t neg_inv52(uint64_t m0)
{
    uint64_t x = m0;
    int i;

    for (i = 0; i < 6; i++)
        x *= 2 - m0 * x;
    return (0 - x) & MASK52;
}

static TGT int lanes_powm_impl(int k, mpz_t *r, const mpz_t *b, const mpz_t *e, const mpz_t *m,
                               size_t ebits)
{
    size_t D = 0, n = 0, j, nwin, elimbs, w;
    int l, rc = TSS_OK;
    V *mem, *M, *R2, *X, *ACC, *SEL, *T, *TAB, *ONE;
    uint64_t k0s[8] __attribute__((aligned(64)));
    uint64_t idx[8] __attribute__((aligned(64)));
    mp_limb_t *ebuf, *tmp, *sub;
    mpz_t t;
    int lane_of[8];

    for (l = 0; l < 8; l++)
        lane_of[l] = l < k ? l : 0; /* idle lanes repeat lane 0 */
    for (l = 0; l < k; l++) {
        size_t bits = mpz_sizeinbase(m[l], 2), ln = mpz_size(m[l]);

        if (tss_lanes_digits(bits) > D)
            D = tss_lanes_digits(bits);
        if (ln > n)
            n = ln;
    }
    elimbs = (ebits + GMP_NUMB_BITS - 1) / GMP_NUMB_BITS + 1;
    nwin = (ebits + WIN - 1) / WIN;
    mem = aligned_alloc(64, (size_t)64 * (D * (6 + NTAB) + 2 * D + 2));
    ebuf = malloc(8 * elimbs * sizeof(mp_limb_t));
    tmp = malloc((2 * n + 2) * sizeof(mp_limb_t));
    if (mem == NULL || ebuf == NULL || tmp == NULL) {
        free(mem);
        free(ebuf);
        free(tmp);
        return TSS_ERR_NOMEM;
    }
    sub = tmp + n + 1;
    M = mem;
    R2 = M + D;
    X = R2 + D;
    ACC = X + D;
    SEL = ACC + D;
    ONE = SEL + D;
    TAB = ONE + D;
    T = TAB + NTAB * D;
    memset(mem, 0, (size_t)64 * (D * (6 + NTAB) + 2 * D + 2));
    memset(ebuf, 0, 8 * elimbs * sizeof(mp_limb_t));
    mpz_init(t);

    for (l = 0; l < 8; l++) {
        int s = lane_of[l];
        size_t sz;

        put_digits((uint64_t *)M, D, l, mpz_limbs_read(m[s]), mpz_size(m[s]));
        k0s[l] = neg_inv52((uint64_t)mpz_getlimbn(m[s], 0));
        /* R^2 mod m and R mod m: public */
        mpz_set_ui(t, 0);
        mpz_setbit(t, 104 * D);
        mpz_mod(t, t, m[s]);
        put_digits((uint64_t *)R2, D, l, mpz_limbs_read(t), mpz_size(t));
        mpz_set_ui(t, 0);
        mpz_setbit(t, 52 * D);
        mpz_mod(t, t, m[s]);
        put_digits((uint64_t *)TAB, D, l, mpz_limbs_read(t), mpz_size(t)); /* entry 0: one */
        put_digits((uint64_t *)X, D, l, mpz_limbs_read(b[s]), mpz_size(b[s]));
        sz = mpz_size(e[s]);
        if (sz > elimbs)
            sz = elimbs; /* callers guarantee e < 2^ebits */
        memcpy(ebuf + (size_t)l * elimbs, mpz_limbs_read(e[s]), sz * sizeof(mp_limb_t));
        ((uint64_t *)ONE)[l] = 1; /* digit 0 of the plain 1, for leaving Montgomery form */
    }
    {
        V k0 = _mm512_load_si512((const void *)k0s);

        /* x R = amm(x, R^2); the table of x^i R, i < 16 */
        amm(TAB + D, X, R2, M, k0, D, T);
        for (w = 2; w < NTAB; w++)
            amm(TAB + w * D, TAB + (w - 1) * D, TAB + D, M, k0, D, T);
        for (j = nwin; j-- > 0;) {
            size_t pos = j * WIN, wl = pos / GMP_NUMB_BITS, sh = pos % GMP_NUMB_BITS, s;

            for (l = 0; l < 8; l++) {
                const mp_limb_t *ep = ebuf + (size_t)l * elimbs;
                uint64_t v = (uint64_t)ep[wl] >> sh;

                if (sh + WIN > GMP_NUMB_BITS && wl + 1 < elimbs)
                    v |= (uint64_t)ep[wl + 1] << (GMP_NUMB_BITS - sh);
                idx[l] = v & (NTAB - 1);
            }
            if (j + 1 == nwin) {
                select_entry(ACC, TAB, D, _mm512_load_si512((const void *)idx));
                continue;
            }
            for (s = 0; s < WIN; s++)
                amm(ACC, ACC, ACC, M, k0, D, T);
            select_entry(SEL, TAB, D, _mm512_load_si512((const void *)idx));
            amm(ACC, ACC, SEL, M, k0, D, T);
        }
        if (nwin == 0)
            memcpy(ACC, TAB, D * sizeof(V));
        /* out of Montgomery form: a product with the plain 1 gives a value <= m */
        amm(ACC, ACC, ONE, M, k0, D, T);
    }
    for (l = 0; l < k; l++) {
        mp_limb_t *rp, bw, mask;
        size_t i;

        get_limbs(tmp, n + 1, (const uint64_t *)ACC, D, l);
        /* the value is m exactly when the power is 0 mod m: subtract m under a mask */
        mpz_realloc2(r[l], (mp_bitcnt_t)(n + 1) * GMP_NUMB_BITS);
        bw = mpn_sub(sub, tmp, n + 1, mpz_limbs_read(m[l]), mpz_size(m[l]));
        mask = bw - 1; /* all ones when tmp >= m */
        rp = mpz_limbs_write(r[l], (mp_size_t)(n + 1));
        for (i = 0; i < n + 1; i++)
            rp[i] = (sub[i] & mask) | (tmp[i] & ~mask);
        mpz_limbs_finish(r[l], (mp_size_t)(n + 1));
    }
    memset(mem, 0, (size_t)64 * (D * (6 + NTAB) + 2 * D + 2));
    memset(ebuf, 0, 8 * elimbs * sizeof(mp_limb_t));
    memset(tmp, 0, (2 * n + 2) * sizeof(mp_limb_t));
    free(mem);
    free(ebuf);
    free(tmp);
    mpz_clear(t);
    return rc;
}

int tss_lanes_powm(int k, mpz_t *r, const mpz_t *b, const mpz_t *e, const mpz_t *m, size_t ebits)
{
    if (k < 1 || k > 8)
        return TSS_ERR_ARG;
    return lanes_powm_impl(k, r, b, e, m, ebits);
}

#else /* not x86-64 with GCC or Clang: never active */

int tss_lanes_powm(int k, mpz_t *r, const mpz_t *b, const mpz_t *e, const mpz_t *m, size_t ebits)
{
    (void)k; (void)r; (void)b; (void)e; (void)m; (void)ebits;
    return TSS_ERR_ARG;
}

#endif
