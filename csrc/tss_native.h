/*
 * tss_native.h - the C kernels behind tss._native (GMP, built with cffi).
 *
 * Every kernel does one whole operation per call. Numbers travel as big-endian unsigned byte
 * strings with explicit lengths; a result is written right-aligned and zero-padded into a
 * caller-allocated buffer of the stated length. Kernels return TSS_OK (0) or a nonzero code.
 * None of them keeps state between calls apart from read-only prime tables built once, so all
 * may run concurrently on different threads (the cffi binding releases the GIL around calls).
 *
 * Only the text between the CDEF markers is handed to cffi's cdef(); keep it plain C
 * declarations and integer #defines.
 */
#ifndef TSS_NATIVE_H
#define TSS_NATIVE_H

#include <stddef.h>

/* CDEF BEGIN */
#define TSS_OK 0
#define TSS_ERR_NOINV 1   /* the value has no inverse modulo the modulus */
#define TSS_ERR_ARG 2     /* an argument outside the kernel's domain (zero or even modulus...) */
#define TSS_ERR_NOMEM 3   /* an allocation failed */
#define TSS_ERR_SIZE 4    /* the output buffer is too small for the result */

/* out (mlen bytes) = b^e mod m, variable time. m > 0. */
int tss_powmod(const unsigned char *b, size_t blen, const unsigned char *e, size_t elen,
               const unsigned char *m, size_t mlen, unsigned char *out);

/* out (mlen bytes) = b^e mod m with mpz_powm_sec (constant time in the operand values).
   m odd and e > 0, else TSS_ERR_ARG. */
int tss_powmod_sec(const unsigned char *b, size_t blen, const unsigned char *e, size_t elen,
                   const unsigned char *m, size_t mlen, unsigned char *out);

/* out (mlen bytes) = prod_i bases[i]^exps[i] mod m, variable time, for k >= 0 bases.
   bases: the k base strings concatenated, blens[i] their lengths; exps likewise.
   An odd modulus takes one simultaneous (Straus, sliding-window, Montgomery) exponentiation
   over all bases; an even modulus falls back to separate exponentiations. */
int tss_multi_powmod(size_t k, const unsigned char *bases, const size_t *blens,
                     const unsigned char *exps, const size_t *elens,
                     const unsigned char *m, size_t mlen, unsigned char *out);

/* n independent b^e mod m. data: b_0 e_0 m_0 b_1 e_1 m_1 ... concatenated; lens: their 3n
   lengths in the same order. out: the n results concatenated, result i taking lens[3i+2]
   bytes. threads: 1, or 2 to share the items with one extra pthread. */
int tss_batch_powmod(size_t n, const unsigned char *data, const size_t *lens,
                     unsigned char *out, int threads);

/* The same with every exponentiation constant time in b and e (mpz_powm_sec, or the AVX-512
   lanes); every modulus odd and every exponent > 0, else TSS_ERR_ARG. */
int tss_batch_powmod_sec(size_t n, const unsigned char *data, const size_t *lens,
                         unsigned char *out, int threads);

/* n CRT exponentiations b_i^e_i mod m1*m2 as tss_crt_powmod computes them, all 2n halves in one
   constant-time batch. data: b_0 e_0 b_1 e_1 ... concatenated, lens their 2n lengths; out: n
   results of outlen bytes each. m1, m2 odd and above 1. */
int tss_batch_crt_powmod(size_t n, const unsigned char *data, const size_t *lens,
                         const unsigned char *m1, size_t m1len, const unsigned char *m2,
                         size_t m2len, const unsigned char *phi1, size_t phi1len,
                         const unsigned char *phi2, size_t phi2len,
                         const unsigned char *coeff, size_t coefflen,
                         unsigned char *out, size_t outlen, int threads);

/* The AVX-512 IFMA lanes (eight exponentiations at once, used by the batch kernels and the
   prime search when the CPU has the instructions): on >= 0 switches them on (1) or off (0),
   -1 only asks. Returns the previous state in bit 0 and whether the CPU has them in bit 1.
   TSS_NO_SIMD in the environment starts with them off. */
int tss_set_simd(int on);

/* k powers of one base: out (k * mlen bytes, result i at offset i * mlen) = b^e_i mod m for
   the k exponents concatenated in exps (lengths in elens), variable time. An odd modulus takes
   one Lim-Lee comb (fixed-base tables) shared by all the exponents; an even one separate
   exponentiations. threads: 1, or 2 to share the exponents with one extra pthread. */
int tss_fixed_base_powmod(const unsigned char *b, size_t blen, size_t k,
                          const unsigned char *exps, const size_t *elens,
                          const unsigned char *m, size_t mlen, unsigned char *out, int threads);

/* A kept fixed-base table: b's comb modulo an odd m > 1, for exponents below 2^bits, made once
   and used for many powers. sec = 1 makes every power constant time in the exponent (all entries
   read, all products taken); sec = 0 is variable time. With offset > 0 (offset < bits) every
   power is multiplied by b^(-2^offset), so that a signed exponent e, |e| < 2^offset, is passed
   as e + 2^offset; then b must be a unit. NULL on a bad argument, a base that is not a unit (with
   an offset) or no memory. Read-only once made: several threads may use one table at once. */
typedef struct tss_fb tss_fb;
tss_fb *tss_fb_new(const unsigned char *b, size_t blen, const unsigned char *m, size_t mlen,
                   size_t offset, size_t bits, int sec);
void tss_fb_free(tss_fb *fb);
/* bytes of memory a table holds */
size_t tss_fb_bytes(const tss_fb *fb);
/* out (outlen bytes) = prod_i b_i^(e_i - offset_i) mod m over k >= 1 tables of one modulus and one
   flavour (else TSS_ERR_ARG), exponents concatenated in exps with lengths elens, each below its
   table's 2^bits (else TSS_ERR_ARG). */
int tss_fb_pow(size_t k, tss_fb *const *fbs, const unsigned char *exps, const size_t *elens,
               unsigned char *out, size_t outlen);

/* out (outlen bytes, at least m1len + m2len) = b^e mod m1*m2 from the two halves: per half the
   exponent is reduced modulo phi_i when gcd(b mod m_i, m_i) = 1, the power taken with
   mpz_powm_sec (mpz_powm for an even m_i), and the halves joined by Garner's formula
   r1 + m1 * ((r2 - r1) * coeff mod m2), coeff = m1^-1 mod m2. */
int tss_crt_powmod(const unsigned char *b, size_t blen, const unsigned char *e, size_t elen,
                   const unsigned char *m1, size_t m1len, const unsigned char *m2, size_t m2len,
                   const unsigned char *phi1, size_t phi1len,
                   const unsigned char *phi2, size_t phi2len,
                   const unsigned char *coeff, size_t coefflen,
                   unsigned char *out, size_t outlen);

/* out (mlen bytes) = a^-1 mod m; TSS_ERR_NOINV when gcd(a, m) != 1 (and for m = 0). */
int tss_invert(const unsigned char *a, size_t alen, const unsigned char *m, size_t mlen,
               unsigned char *out);

/* 1 when n passes mpz_probab_prime_p(n, 40) (trial division, Baillie-PSW, Miller-Rabin),
   0 otherwise. This one returns the answer, not a status. */
int tss_is_probable_prime(const unsigned char *n, size_t nlen);

/* The smallest i < window, in ascending order, such that q = q0 + 2i passes the joint sieve
   (neither q nor 2q+1 divisible by an odd prime below 2^16) and both q and 2q+1 pass
   mpz_probab_prime_p(., 40); out (outlen bytes, at least q0len + 8) receives q, or 0 when no
   i qualifies. window <= 2^30. */
int tss_safe_prime_window(const unsigned char *q0, size_t q0len, unsigned long window,
                          unsigned char *out, size_t outlen);
/* the version string of the GMP library the kernels run on (gmp_version) */
const char *tss_gmp_version(void);
/* CDEF END */

#endif
