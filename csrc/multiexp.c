/*
 * multiexp.c - Montgomery arithmetic on GMP's mpn layer and the simultaneous multi-exponentiation
 * kernel.
 *
 * prod b_i^e_i mod m is computed with Straus' interleaving: one chain of squarings shared by all
 * bases, and for each base a left-to-right sliding window over its own exponent with a table of
 * its odd powers. Two separate exponentiations cost two squaring chains; here there is one,
 * which is where the speed-up comes from. The products are Montgomery products (mpn_mul_n or
 * mpn_sqr, then a word-by-word REDC on mpn_addmul_1), the same representation mpz_powm uses
 * internally, so a squaring here costs about what it costs inside GMP.
 */
#include <stdlib.h>
#include <string.h>

#include "tss_internal.h"

/* -m0^-1 mod 2^GMP_NUMB_BITS for odd m0, by Newton's iteration x <- x (2 - m0 x) */
static mp_limb_t neg_inverse_limb(mp_limb_t m0)
{
    mp_limb_t x = m0; /* correct to 3 bits: m0 * m0 = 1 mod 8 */
    int bits;

    for (bits = 3; bits < GMP_NUMB_BITS; bits *= 2)
        x *= 2 - m0 * x;
    return -x;
}

int tss_mont_init(tss_mont *c, const mpz_t m)
{
    mp_size_t n = (mp_size_t)mpz_size(m);
    mp_limb_t *mem;

    mem = malloc((size_t)(4 * n) * sizeof(mp_limb_t));
    if (mem == NULL)
        return TSS_ERR_NOMEM;
    c->n = n;
    c->m = mem;
    c->t = mem + n;
    c->one = mem + 3 * n;
    memcpy(c->m, mpz_limbs_read(m), (size_t)n * sizeof(mp_limb_t));
    c->minv = neg_inverse_limb(c->m[0]);
    mpz_init(c->z);
    mpz_set_ui(c->z, 1);
    tss_mont_to(c, c->one, c->z);
    return TSS_OK;
}

void tss_mont_clear(tss_mont *c)
{
    mpz_clear(c->z);
    free(c->m);
    c->m = c->t = c->one = NULL;
}

void tss_mont_to(tss_mont *c, mp_limb_t *r, const mpz_t x)
{
    mpz_t mm;
    size_t sz;

    mpz_mul_2exp(c->z, x, (mp_bitcnt_t)c->n * GMP_NUMB_BITS);
    mpz_roinit_n(mm, c->m, c->n);
    mpz_mod(c->z, c->z, mm);
    sz = mpz_size(c->z);
    if (sz)
        memcpy(r, mpz_limbs_read(c->z), sz * sizeof(mp_limb_t));
    if ((mp_size_t)sz < c->n)
        memset(r + sz, 0, (size_t)(c->n - (mp_size_t)sz) * sizeof(mp_limb_t));
}

void tss_mont_from(tss_mont *c, mpz_t r, const mp_limb_t *a)
{
    mp_size_t n = c->n;
    mp_limb_t *rp;

    memcpy(c->t, a, (size_t)n * sizeof(mp_limb_t));
    memset(c->t + n, 0, (size_t)n * sizeof(mp_limb_t));
    rp = mpz_limbs_write(r, n);
    tss_redc(c, rp, c->t);
    mpz_limbs_finish(r, n);
}

/* ---------------------------------------------------------------------------------------- */

static inline int limb_bit(const mp_limb_t *p, size_t pos)
{
    return (int)((p[pos / GMP_NUMB_BITS] >> (pos % GMP_NUMB_BITS)) & 1);
}

/* the window width that minimises table size plus expected multiplications for `bits` */
static int window_for(size_t bits)
{
    int w, best = 1;
    double cost, best_cost = (double)bits / 2.0;

    for (w = 2; w <= 6; w++) {
        cost = (double)(1u << (w - 1)) + (double)bits / (double)(w + 1);
        if (cost < best_cost) {
            best_cost = cost;
            best = w;
        }
    }
    return best;
}

/* Sliding-window recoding: dig[j] = odd window value ending at bit j, or 0. */
static void recode(unsigned char *dig, const mp_limb_t *e, size_t bits, int w)
{
    size_t i, j, lo, t;
    unsigned v;

    memset(dig, 0, bits);
    i = bits;
    while (i > 0) {
        i--;
        if (!limb_bit(e, i))
            continue;
        lo = i + 1 >= (size_t)w ? i + 1 - (size_t)w : 0;
        j = lo;
        while (!limb_bit(e, j)) /* terminates: bit i is set */
            j++;
        v = 0;
        for (t = i + 1; t > j; t--)
            v = (v << 1) | (unsigned)limb_bit(e, t - 1);
        dig[j] = (unsigned char)v;
        i = j;
    }
}

typedef struct {
    size_t bits;          /* bit length of the exponent */
    int w;                /* window width */
    unsigned char *dig;   /* bits entries */
    mp_limb_t *tab;       /* 2^(w-1) residues: b^1, b^3, b^5, ... (Montgomery form) */
} straus_base;

int tss_multiexp_odd(mpz_t r, size_t k, mpz_t *bases, mpz_t *exps, const mpz_t m)
{
    tss_mont c;
    straus_base *sb = NULL;
    size_t i, active = 0, maxbits = 0, limbs = 0, digits = 0, pos;
    mp_limb_t *lmem = NULL, *acc, *lp;
    unsigned char *dmem = NULL, *dp;
    mp_size_t n;
    int rc, one;

    if (mpz_cmp_ui(m, 1) == 0) {
        mpz_set_ui(r, 0);
        return TSS_OK;
    }
    rc = tss_mont_init(&c, m);
    if (rc != TSS_OK)
        return rc;
    n = c.n;
    sb = calloc(k ? k : 1, sizeof(straus_base));
    if (sb == NULL) {
        rc = TSS_ERR_NOMEM;
        goto done;
    }
    for (i = 0; i < k; i++) {
        if (mpz_sgn(exps[i]) == 0)
            continue;
        sb[active].bits = mpz_sizeinbase(exps[i], 2);
        sb[active].w = window_for(sb[active].bits);
        limbs += ((size_t)1 << (sb[active].w - 1)) * (size_t)n;
        digits += sb[active].bits;
        if (sb[active].bits > maxbits)
            maxbits = sb[active].bits;
        active++;
    }
    lmem = malloc((limbs + 2 * (size_t)n) * sizeof(mp_limb_t));
    dmem = malloc(digits ? digits : 1);
    if (lmem == NULL || dmem == NULL) {
        rc = TSS_ERR_NOMEM;
        goto done;
    }
    acc = lmem + limbs;
    lp = lmem;
    dp = dmem;
    active = 0;
    for (i = 0; i < k; i++) {
        straus_base *s;
        size_t j, entries;
        mp_limb_t *sq = acc + n; /* scratch residue */

        if (mpz_sgn(exps[i]) == 0)
            continue;
        s = &sb[active++];
        s->tab = lp;
        s->dig = dp;
        entries = (size_t)1 << (s->w - 1);
        lp += entries * (size_t)n;
        dp += s->bits;
        recode(s->dig, mpz_limbs_read(exps[i]), s->bits, s->w);
        tss_mont_to(&c, s->tab, bases[i]);
        if (entries > 1) {
            tss_mont_sqr(&c, sq, s->tab);
            for (j = 1; j < entries; j++)
                tss_mont_mul(&c, s->tab + j * n, s->tab + (j - 1) * n, sq);
        }
    }

    /* acc stays "one" (and squarings are skipped) until the first table product */
    one = 1;
    for (pos = maxbits; pos > 0;) {
        pos--;
        if (!one)
            tss_mont_sqr(&c, acc, acc);
        for (i = 0; i < active; i++) {
            unsigned d;

            if (pos >= sb[i].bits || (d = sb[i].dig[pos]) == 0)
                continue;
            if (one) {
                memcpy(acc, sb[i].tab + (size_t)(d >> 1) * n, (size_t)n * sizeof(mp_limb_t));
                one = 0;
            } else {
                tss_mont_mul(&c, acc, acc, sb[i].tab + (size_t)(d >> 1) * n);
            }
        }
    }
    if (one)
        mpz_set_ui(r, 1);
    else
        tss_mont_from(&c, r, acc);
    rc = TSS_OK;

done:
    free(lmem);
    free(dmem);
    free(sb);
    tss_mont_clear(&c);
    return rc;
}

int tss_multi_powmod(size_t k, const unsigned char *bases, const size_t *blens,
                     const unsigned char *exps, const size_t *elens,
                     const unsigned char *m, size_t mlen, unsigned char *out)
{
    mpz_t zm, r, t;
    mpz_t *zb = NULL, *ze = NULL;
    size_t i, nb = 0, ne = 0;
    int rc = TSS_ERR_ARG;

    mpz_inits(zm, r, t, NULL);
    tss_import(zm, m, mlen);
    if (mpz_sgn(zm) <= 0)
        goto out0;
    zb = malloc((k ? k : 1) * sizeof(mpz_t));
    ze = malloc((k ? k : 1) * sizeof(mpz_t));
    if (zb == NULL || ze == NULL) {
        rc = TSS_ERR_NOMEM;
        goto out1;
    }
    for (nb = 0; nb < k; nb++) {
        mpz_init(zb[nb]);
        tss_import(zb[nb], bases, blens[nb]);
        bases += blens[nb];
        if (mpz_cmp(zb[nb], zm) >= 0)
            mpz_mod(zb[nb], zb[nb], zm);
    }
    for (ne = 0; ne < k; ne++) {
        mpz_init(ze[ne]);
        tss_import(ze[ne], exps, elens[ne]);
        exps += elens[ne];
    }
    if (mpz_odd_p(zm) && k > 1) {
        rc = tss_multiexp_odd(r, k, zb, ze, zm);
    } else {
        /* even modulus (no Montgomery form) or a single base: plain powers */
        mpz_set_ui(r, 1);
        for (i = 0; i < k; i++) {
            tss_powm(t, zb[i], ze[i], zm);
            mpz_mul(r, r, t);
            mpz_mod(r, r, zm);
        }
        mpz_mod(r, r, zm);
        rc = TSS_OK;
    }
    if (rc == TSS_OK)
        rc = tss_export(out, mlen, r);
out1:
    for (i = 0; i < nb; i++)
        mpz_clear(zb[i]);
    for (i = 0; i < ne; i++)
        mpz_clear(ze[i]);
    free(zb);
    free(ze);
out0:
    mpz_clears(zm, r, t, NULL);
    return rc;
}
