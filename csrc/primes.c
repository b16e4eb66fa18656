/*
 * primes.c - the safe-prime window search.
 *
 * The window holds the candidates q = q0 + 2i, i < window. The joint sieve is the one in
 * src/tss/arith/_sieve.py: for every odd prime r below 2^16 strike the i with q = 0 (mod r) and
 * the i with 2q + 1 = 0 (mod r), with the same residue arithmetic, so the survivors are the
 * same offsets in the same order. The survivors are then scanned in ascending order and the first
 * one with mpz_probab_prime_p(q, 40) and mpz_probab_prime_p(2q + 1, 40) is the answer - the same
 * final test as the gmpy2 backend, so both backends return the same q for the same q0.
 *
 * Two filters make that scan cheaper without changing its answer, because they only discard
 * candidates the final test would reject anyway:
 *  - when q0 is large enough that neither q nor 2q + 1 can equal a sieving prime, the sieve goes
 *    on with the odd primes from 2^16 up to EXT_BOUND (a candidate struck there has a proper
 *    factor, so it is composite);
 *  - a base-2 Fermat test on q, then on 2q + 1, before the full tests (every prime passes it).
 *    It runs on the Montgomery code of multiexp.c; since the base is 2, each step is a
 *    Montgomery squaring plus, for a one bit, a doubling (shift and conditional subtraction).
 *    When the AVX-512 IFMA lanes are active (lanes.c), the test on q runs on eight survivors
 *    at once, still taken in ascending order; the first of them that passes everything is the
 *    answer, as before.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tss_internal.h"

#define BASE_BOUND (1u << 16) /* must equal SIEVE_BOUND in _sieve.py */
#ifndef EXT_BOUND
#define EXT_BOUND (1u << 21) /* extra sieving primes, for large q0 only (measured best) */
#endif
#define MAX_WINDOW (1ul << 30)

static uint32_t *g_primes;   /* odd primes below EXT_BOUND, ascending */
static size_t g_nbase;       /* how many are below BASE_BOUND */
static size_t g_nall;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void build_primes(void)
{
    unsigned char *composite;
    uint32_t i, j;
    size_t count = 0;

    composite = calloc(EXT_BOUND, 1);
    if (composite == NULL)
        return;
    for (i = 3; (uint64_t)i * i < EXT_BOUND; i += 2)
        if (!composite[i])
            for (j = i * i; j < EXT_BOUND; j += 2 * i)
                composite[j] = 1;
    for (i = 3; i < EXT_BOUND; i += 2)
        count += !composite[i];
    g_primes = malloc(count * sizeof(uint32_t));
    if (g_primes != NULL) {
        count = 0;
        for (i = 3; i < EXT_BOUND; i += 2) {
            if (composite[i])
                continue;
            if (i < BASE_BOUND)
                g_nbase++;
            g_primes[count++] = i;
        }
        g_nall = count;
    }
    free(composite);
}

/* res[j] = q0 mod primes[j] for j < count, taking several primes per mpz_fdiv_ui call */
static void residues(uint32_t *res, const mpz_t q0, const uint32_t *primes, size_t count)
{
    size_t j = 0, g;

    while (j < count) {
        unsigned long prod = primes[j], rem;

        g = j + 1;
        while (g < count && prod <= ULONG_MAX / primes[g])
            prod *= primes[g++];
        rem = mpz_fdiv_ui(q0, prod);
        for (; j < g; j++)
            res[j] = (uint32_t)(rem % primes[j]);
    }
}

/* x / 2 mod r for x in [0, r), r odd: no division */
static inline uint32_t half_mod(uint32_t x, uint32_t r)
{
    return (uint32_t)(((uint64_t)x + (r & (0u - (x & 1)))) >> 1);
}

/* Strike the offsets i with q0 + 2i = 0 or 2(q0 + 2i) + 1 = 0 (mod r), given q0r = q0 mod r.
   The offsets are the ones _sieve.py computes, i1 = -q0 / 2 and i2 = (-1 - 2 q0) / 4 mod r,
   here by halving instead of multiplying by inverses (no divisions). */
static void strike(unsigned char *alive, size_t window, uint32_t r, uint32_t q0r)
{
    uint32_t y = 2 * q0r + 1; /* < 2r, and r < 2^31 */
    size_t i;

    if (y >= r)
        y -= r;
    size_t i1 = half_mod(q0r ? r - q0r : 0, r);
    size_t i2 = half_mod(half_mod(y ? r - y : 0, r), r);
    for (i = i1; i < window; i += r)
        alive[i] = 0;
    for (i = i2; i < window; i += r)
        alive[i] = 0;
}

/* base-2 Fermat test of an odd x > 2^64: 2^(x-1) = 1 (mod x)? */
static int fermat2(const mpz_t x, mpz_t e)
{
    tss_mont c;
    mp_limb_t *acc;
    const mp_limb_t *ep;
    size_t bits, pos;
    mp_size_t n;
    int ok;

    if (tss_mont_init(&c, x) != TSS_OK)
        return 1; /* cannot filter: let the full test decide */
    n = c.n;
    acc = malloc((size_t)n * sizeof(mp_limb_t));
    if (acc == NULL) {
        tss_mont_clear(&c);
        return 1;
    }
    mpz_sub_ui(e, x, 1);
    ep = mpz_limbs_read(e);
    bits = mpz_sizeinbase(e, 2);
    /* acc = 2 in Montgomery form = 2 R mod x, which consumes the top bit of e */
    mpn_copyi(acc, c.one, n);
    if (mpn_lshift(acc, acc, n, 1) || mpn_cmp(acc, c.m, n) >= 0)
        mpn_sub_n(acc, acc, c.m, n);
    for (pos = bits - 1; pos > 0;) {
        pos--;
        tss_mont_sqr(&c, acc, acc);
        if ((ep[pos / GMP_NUMB_BITS] >> (pos % GMP_NUMB_BITS)) & 1) {
            if (mpn_lshift(acc, acc, n, 1) || mpn_cmp(acc, c.m, n) >= 0)
                mpn_sub_n(acc, acc, c.m, n);
        }
    }
    ok = mpn_cmp(acc, c.one, n) == 0;
    free(acc);
    tss_mont_clear(&c);
    return ok;
}

/* the cheap filter: 0 when x is certainly composite */
static int passes_fermat2(const mpz_t x, mpz_t tmp)
{
    return mpz_sizeinbase(x, 2) <= 64 || !mpz_odd_p(x) || fermat2(x, tmp);
}

int tss_safe_prime_window(const unsigned char *q0, size_t q0len, unsigned long window,
                          unsigned char *out, size_t outlen)
{
    mpz_t zq0, q, p, tmp;
    unsigned char *alive = NULL;
    uint32_t *res = NULL;
    size_t nprimes, j, i;
    int rc = TSS_OK, found = 0;

    if (window > MAX_WINDOW || outlen < q0len + 8)
        return TSS_ERR_ARG;
    pthread_once(&g_once, build_primes);
    if (g_primes == NULL)
        return TSS_ERR_NOMEM;

    mpz_inits(zq0, q, p, tmp, NULL);
    tss_import(zq0, q0, q0len);
    /* the extra primes only when q (>= q0) is larger than all of them */
    nprimes = mpz_sizeinbase(zq0, 2) > 32 ? g_nall : g_nbase;
    alive = malloc(window ? window : 1);
    res = malloc(nprimes * sizeof(uint32_t));
    if (alive == NULL || res == NULL) {
        rc = TSS_ERR_NOMEM;
        goto done;
    }
    memset(alive, 1, window);
    residues(res, zq0, g_primes, nprimes);
    for (j = 0; j < nprimes; j++)
        strike(alive, window, g_primes[j], res[j]);

    if (tss_lanes_active() && mpz_sizeinbase(zq0, 2) >= 256) {
        /* the same scan, with the Fermat test on q run eight candidates at a time */
        mpz_t bq[8], eq[8], mq[8], rq[8];
        size_t k, c;
        int l;

        for (l = 0; l < 8; l++)
            mpz_inits(bq[l], eq[l], mq[l], rq[l], NULL);
        i = 0;
        while (!found && i < window) {
            size_t ebits = 0;

            for (k = 0; k < 8 && i < window; i++) {
                if (!alive[i])
                    continue;
                mpz_add_ui(mq[k], zq0, 2 * (unsigned long)i);
                mpz_sub_ui(eq[k], mq[k], 1);
                mpz_set_ui(bq[k], 2);
                if (mpz_sizeinbase(eq[k], 2) > ebits)
                    ebits = mpz_sizeinbase(eq[k], 2);
                k++;
            }
            if (k == 0)
                break;
            if (tss_lanes_powm((int)k, rq, (const mpz_t *)bq, (const mpz_t *)eq,
                               (const mpz_t *)mq, ebits) != TSS_OK) {
                rc = TSS_ERR_NOMEM;
                break;
            }
            for (c = 0; c < k; c++) {
                if (mpz_cmp_ui(rq[c], 1) != 0)
                    continue;
                mpz_set(q, mq[c]);
                mpz_mul_2exp(p, q, 1);
                mpz_add_ui(p, p, 1);
                if (!passes_fermat2(p, tmp))
                    continue;
                if (mpz_probab_prime_p(q, 40) > 0 && mpz_probab_prime_p(p, 40) > 0) {
                    found = 1;
                    break;
                }
            }
        }
        for (l = 0; l < 8; l++)
            mpz_clears(bq[l], eq[l], mq[l], rq[l], NULL);
        if (rc != TSS_OK)
            goto done;
    } else {
        for (i = 0; i < window; i++) {
            if (!alive[i])
                continue;
            mpz_add_ui(q, zq0, 2 * (unsigned long)i);
            mpz_mul_2exp(p, q, 1);
            mpz_add_ui(p, p, 1);
            /* both cheap tests first, as the gmpy2 backend does: most q that pass are wasted on
               a composite 2q + 1, so the expensive test waits until both have passed */
            if (!passes_fermat2(q, tmp) || !passes_fermat2(p, tmp))
                continue;
            if (mpz_probab_prime_p(q, 40) > 0 && mpz_probab_prime_p(p, 40) > 0) {
                found = 1;
                break;
            }
        }
    }
    if (!found)
        mpz_set_ui(q, 0);
    rc = tss_export(out, outlen, q);

done:
    free(alive);
    free(res);
    mpz_clears(zq0, q, p, tmp, NULL);
    return rc;
}
