/*
 * tss_internal.h - helpers shared by the kernels: byte import/export and Montgomery arithmetic
 * on GMP's mpn layer (public functions only: mpn_mul_n, mpn_sqr, mpn_addmul_1, ...).
 */
#ifndef TSS_INTERNAL_H
#define TSS_INTERNAL_H

#include <stddef.h>
#include <gmp.h>

#include "tss_native.h"

#if GMP_NAIL_BITS != 0
#error "tss_native needs a GMP built without nail bits"
#endif

/* x = the big-endian unsigned integer in buf[0..len) */
static inline void tss_import(mpz_t x, const unsigned char *buf, size_t len)
{
    if (len == 0)
        mpz_set_ui(x, 0);
    else
        mpz_import(x, len, 1, 1, 1, 0, buf);
}

/* buf[0..len) = x (x >= 0) right-aligned, zero-padded; TSS_ERR_SIZE when it does not fit */
int tss_export(unsigned char *buf, size_t len, const mpz_t x);

/*
 * Montgomery arithmetic modulo an odd m of n limbs, R = 2^(n * GMP_NUMB_BITS).
 * Residues are n-limb arrays holding values in [0, m).
 */
typedef struct {
    mp_size_t n;
    mp_limb_t *m;    /* n limbs, odd */
    mp_limb_t minv;  /* -m^-1 mod 2^GMP_NUMB_BITS */
    mp_limb_t *t;    /* 2n limbs of scratch for products */
    mp_limb_t *one;  /* R mod m: the Montgomery form of 1 */
    mpz_t z;         /* scratch for conversions */
} tss_mont;

/* m odd and positive. TSS_OK or TSS_ERR_NOMEM (then nothing needs freeing). */
int tss_mont_init(tss_mont *c, const mpz_t m);
void tss_mont_clear(tss_mont *c);
/* r (n limbs) = x R mod m; any x >= 0 */
void tss_mont_to(tss_mont *c, mp_limb_t *r, const mpz_t x);
/* r = a R^-1 mod m: back from Montgomery form */
void tss_mont_from(tss_mont *c, mpz_t r, const mp_limb_t *a);

/* r = t R^-1 mod m for the 2n-limb t < m R; t is destroyed. r may not overlap t. */
static inline void tss_redc(const tss_mont *c, mp_limb_t *r, mp_limb_t *t)
{
    mp_size_t n = c->n, i;
    const mp_limb_t *m = c->m;
    mp_limb_t minv = c->minv, *up = t, cy;

    /* Each step clears the lowest limb by adding a multiple of m, and parks the carry out of
       the n-limb addition in that freed limb: those carries belong n limbs higher and are
       added in one pass at the end. */
    for (i = 0; i < n; i++, up++)
        up[0] = mpn_addmul_1(up, m, n, up[0] * minv);
    cy = mpn_add_n(r, t + n, t, n);
    /* now r + cy R < 2m */
    if (cy || mpn_cmp(r, m, n) >= 0)
        mpn_sub_n(r, r, m, n);
}

/* r = a b R^-1 mod m; r may alias a or b */
static inline void tss_mont_mul(const tss_mont *c, mp_limb_t *r, const mp_limb_t *a,
                                const mp_limb_t *b)
{
    mpn_mul_n(c->t, a, b, c->n);
    tss_redc(c, r, c->t);
}

/* r = a^2 R^-1 mod m; r may alias a */
static inline void tss_mont_sqr(const tss_mont *c, mp_limb_t *r, const mp_limb_t *a)
{
    mpn_sqr(c->t, a, c->n);
    tss_redc(c, r, c->t);
}

/* Straus / sliding-window exponentiation of k bases (odd modulus) used by tss_multi_powmod and
   by the batch kernel. bases and exps hold k values each; bases need not be reduced.
   Returns TSS_OK or TSS_ERR_NOMEM. */
int tss_multiexp_odd(mpz_t r, size_t k, mpz_t *bases, mpz_t *exps, const mpz_t m);

/* lanes.c: eight exponentiations at once on AVX-512 IFMA. tss_lanes_active() is 1 when the CPU
   has the instructions and they are switched on. tss_lanes_powm sets r[i] = b[i]^e[i] mod m[i]
   for i < k (1 <= k <= 8), every m[i] odd and above 1 (best all of one tss_lanes_digits size),
   0 <= b[i] < m[i], 0 <= e[i] < 2^ebits; the operations depend on k, the sizes and ebits only. */
int tss_lanes_active(void);
size_t tss_lanes_digits(size_t mbits);
int tss_lanes_powm(int k, mpz_t *r, const mpz_t *b, const mpz_t *e, const mpz_t *m, size_t ebits);

/* batch.c: n independent r[i] = b[i]^e[i] mod m[i] (m[i] > 0, b[i] reduced, e[i] >= 0) on one or
   two threads, through the lanes when they are active. sec: constant time in b and e (every m[i]
   odd; mpz_powm_sec outside the lanes). */
int tss_run_batch(size_t n, mpz_t *r, const mpz_t *b, const mpz_t *e, const mpz_t *m, int threads,
                  int sec);

/* r = b^e mod m (m > 0) with mpz_powm, guarding the cases GMP leaves undefined */
void tss_powm(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t m);

#endif
