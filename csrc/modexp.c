/*
 * modexp.c - single exponentiations, CRT exponentiation, inverse and primality kernels, and the
 * byte-string helpers they share.
 */
#include <string.h>

#include "tss_internal.h"

int tss_export(unsigned char *buf, size_t len, const mpz_t x)
{
    size_t need, count = 0;

    if (mpz_sgn(x) == 0) {
        if (len)
            memset(buf, 0, len);
        return TSS_OK;
    }
    need = (mpz_sizeinbase(x, 2) + 7) / 8;
    if (need > len)
        return TSS_ERR_SIZE;
    memset(buf, 0, len - need);
    mpz_export(buf + (len - need), &count, 1, 1, 1, 0, x);
    return count == need ? TSS_OK : TSS_ERR_SIZE;
}

void tss_powm(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t m)
{
    if (mpz_cmp_ui(m, 1) == 0)
        mpz_set_ui(r, 0);
    else
        mpz_powm(r, b, e, m);
}

int tss_powmod(const unsigned char *b, size_t blen, const unsigned char *e, size_t elen,
               const unsigned char *m, size_t mlen, unsigned char *out)
{
    mpz_t zb, ze, zm;
    int rc = TSS_ERR_ARG;

    mpz_inits(zb, ze, zm, NULL);
    tss_import(zm, m, mlen);
    if (mpz_sgn(zm) > 0) {
        tss_import(zb, b, blen);
        tss_import(ze, e, elen);
        tss_powm(zb, zb, ze, zm);
        rc = tss_export(out, mlen, zb);
    }
    mpz_clears(zb, ze, zm, NULL);
    return rc;
}

int tss_powmod_sec(const unsigned char *b, size_t blen, const unsigned char *e, size_t elen,
                   const unsigned char *m, size_t mlen, unsigned char *out)
{
    mpz_t zb, ze, zm;
    int rc = TSS_ERR_ARG;

    mpz_inits(zb, ze, zm, NULL);
    tss_import(zm, m, mlen);
    tss_import(ze, e, elen);
    if (mpz_odd_p(zm) && mpz_sgn(ze) > 0) {
        tss_import(zb, b, blen);
        if (mpz_cmp(zb, zm) >= 0)
            mpz_mod(zb, zb, zm);
        if (mpz_cmp_ui(zm, 1) == 0)
            mpz_set_ui(zb, 0);
        else
            mpz_powm_sec(zb, zb, ze, zm);
        rc = tss_export(out, mlen, zb);
    }
    mpz_clears(zb, ze, zm, NULL);
    return rc;
}

/* one half of the CRT exponentiation: r = b^e mod m with e reduced mod phi when b is a unit */
static void crt_half(mpz_t r, const mpz_t b, const mpz_t e, const mpz_t m, const mpz_t phi,
                     mpz_t tmp_b, mpz_t tmp_e)
{
    mpz_mod(tmp_b, b, m);
    mpz_gcd(tmp_e, tmp_b, m);
    if (mpz_cmp_ui(tmp_e, 1) == 0)
        mpz_mod(tmp_e, e, phi);
    else
        mpz_set(tmp_e, e);
    if (mpz_sgn(tmp_e) == 0 || mpz_cmp_ui(m, 1) == 0)
        mpz_set_ui(r, mpz_cmp_ui(m, 1) == 0 ? 0 : 1);
    else if (mpz_odd_p(m))
        mpz_powm_sec(r, tmp_b, tmp_e, m);
    else
        mpz_powm(r, tmp_b, tmp_e, m);
}

int tss_crt_powmod(const unsigned char *b, size_t blen, const unsigned char *e, size_t elen,
                   const unsigned char *m1, size_t m1len, const unsigned char *m2, size_t m2len,
                   const unsigned char *phi1, size_t phi1len,
                   const unsigned char *phi2, size_t phi2len,
                   const unsigned char *coeff, size_t coefflen,
                   unsigned char *out, size_t outlen)
{
    mpz_t zb, ze, zm1, zm2, zp1, zp2, zc, r1, r2, t1, t2;
    int rc = TSS_ERR_ARG;

    mpz_inits(zb, ze, zm1, zm2, zp1, zp2, zc, r1, r2, t1, t2, NULL);
    tss_import(zm1, m1, m1len);
    tss_import(zm2, m2, m2len);
    tss_import(zp1, phi1, phi1len);
    tss_import(zp2, phi2, phi2len);
    if (mpz_sgn(zm1) > 0 && mpz_sgn(zm2) > 0 && mpz_sgn(zp1) > 0 && mpz_sgn(zp2) > 0) {
        tss_import(zb, b, blen);
        tss_import(ze, e, elen);
        tss_import(zc, coeff, coefflen);
        crt_half(r1, zb, ze, zm1, zp1, t1, t2);
        crt_half(r2, zb, ze, zm2, zp2, t1, t2);
        /* Garner: r1 + m1 * ((r2 - r1) * coeff mod m2) */
        mpz_sub(t1, r2, r1);
        mpz_mul(t1, t1, zc);
        mpz_mod(t1, t1, zm2);
        mpz_mul(t1, t1, zm1);
        mpz_add(t1, t1, r1);
        rc = tss_export(out, outlen, t1);
        mpz_set_ui(r1, 0);
        mpz_set_ui(r2, 0);
    }
    mpz_clears(zb, ze, zm1, zm2, zp1, zp2, zc, r1, r2, t1, t2, NULL);
    return rc;
}

int tss_invert(const unsigned char *a, size_t alen, const unsigned char *m, size_t mlen,
               unsigned char *out)
{
    mpz_t za, zm;
    int rc = TSS_ERR_NOINV;

    mpz_inits(za, zm, NULL);
    tss_import(zm, m, mlen);
    if (mpz_sgn(zm) > 0) {
        tss_import(za, a, alen);
        if (mpz_cmp_ui(zm, 1) == 0) {
            /* everything is 0 mod 1, and 0 * 0 = 1 mod 1 */
            mpz_set_ui(za, 0);
            rc = tss_export(out, mlen, za);
        } else if (mpz_invert(za, za, zm)) {
            rc = tss_export(out, mlen, za);
        }
    }
    mpz_clears(za, zm, NULL);
    return rc;
}

int tss_is_probable_prime(const unsigned char *n, size_t nlen)
{
    mpz_t zn;
    int r;

    mpz_init(zn);
    tss_import(zn, n, nlen);
    r = mpz_probab_prime_p(zn, 40) > 0;
    mpz_clear(zn);
    return r;
}

const char *tss_gmp_version(void)
{
    return gmp_version;
}
