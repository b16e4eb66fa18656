/*
 * fixedbase.c - exponentiations of a fixed base: many at once (b^e_i mod m for i < k, variable
 * time, tss_fixed_base_powmod), and kept tables for a base that recurs across calls (tss_fb_*,
 * variable or constant time, below).
 *
 * A Lim-Lee comb shared by all the exponents. With h rows and v tables, an exponent of at most
 * L = h a bits (a = v c) is read as an h x a bit matrix, row i holding bits [i a, (i+1) a), and
 * every column of the matrix is one table index. Table j holds, for every nonzero h-bit u, the
 * product over the set bits i of u of b^(2^(i a + j c)); then
 *
 *     b^e = prod_{t < c} ( prod_{j < v} G_j[u(j c + t)] )^(2^t),
 *
 * evaluated left to right: c - 1 squarings and at most v c products per exponent, against about
 * L squarings for a plain exponentiation. Building the tables costs about L squarings (the chain
 * b^(2^(i a + j c))) and one product per table entry, once for all the exponents; (h, v) are
 * chosen per call from a cost model of that trade. Products are Montgomery products on the mpn
 * layer (tss_internal.h). The exponents may be shared with one extra pthread, each worker with
 * its own scratch; the tables are read-only by then.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tss_internal.h"

#define MAX_ROWS 12
#define MAX_TABLES 64
#define MAX_TABLE_BYTES ((size_t)16 << 20)

typedef struct {
    size_t h, v, c;        /* rows, tables, columns per table: L <= h v c */
    mp_limb_t *tab;        /* v tables of 2^h residues (entry 0 of each: one) */
    mp_limb_t *row;        /* h v residues: the powers b^(2^(s c)), s < h v */
} comb_t;

/* Relative cost (in Montgomery products; a squaring is about 0.85 of one) of k exponents of at
   most `bits` bits with h rows and v tables, the table products and the exponents shared by
   `threads` workers (the chain of squarings is sequential). */
static double comb_cost(size_t bits, size_t k, size_t h, size_t v, int threads, size_t *c_out)
{
    size_t a = (bits + h - 1) / h, c = (a + v - 1) / v;
    double sq = 0.85, entries = (double)((size_t)1 << h), share = threads >= 2 ? 0.5 : 1.0;
    double chain = sq * (double)(h * v * c);
    double fill = (double)v * (entries - (double)h - 1.0);
    double each = sq * (double)(c ? c - 1 : 0) + (double)(v * c) * (1.0 - 1.0 / entries);

    *c_out = c;
    return chain + share * (fill + (double)k * each);
}

static void comb_choose(comb_t *cb, size_t bits, size_t k, size_t limbs, int threads)
{
    size_t h, v, c, best_h = 1, best_v = 1, best_c = bits;
    double cost, best = -1.0;

    for (h = 1; h <= MAX_ROWS; h++) {
        for (v = 1; v <= MAX_TABLES; v++) {
            size_t bytes = (v << h) * limbs * sizeof(mp_limb_t);

            if (bytes > MAX_TABLE_BYTES || v * h > bits + h)
                break;
            cost = comb_cost(bits, k, h, v, threads, &c);
            if (best < 0.0 || cost < best) {
                best = cost;
                best_h = h;
                best_v = v;
                best_c = c;
            }
        }
    }
    cb->h = best_h;
    cb->v = best_v;
    cb->c = best_c;
}

/* cb->row[i v + j] = x^(2^(i a + j c)) = x^(2^((i v + j) c)) for base x (already reduced):
   one chain of squarings */
static int comb_chain(comb_t *cb, tss_mont *mc, const mpz_t x)
{
    size_t h = cb->h, v = cb->v, c = cb->c, i, s;
    mp_size_t n = mc->n;
    mp_limb_t *p;

    cb->tab = malloc((v << h) * (size_t)n * sizeof(mp_limb_t));
    cb->row = malloc(h * v * (size_t)n * sizeof(mp_limb_t));
    if (cb->tab == NULL || cb->row == NULL)
        return TSS_ERR_NOMEM;
    tss_mont_to(mc, cb->row, x);
    for (s = 1; s < h * v; s++) {
        p = cb->row + s * (size_t)n;
        memcpy(p, p - n, (size_t)n * sizeof(mp_limb_t));
        for (i = 0; i < c; i++)
            tss_mont_sqr(mc, p, p);
    }
    return TSS_OK;
}

/* table j: entry u = the product of row[i v + j] over the set bits i of u */
static void comb_fill(const comb_t *cb, tss_mont *mc, size_t j)
{
    size_t h = cb->h, v = cb->v, i, u;
    mp_size_t n = mc->n;
    mp_limb_t *t = cb->tab + (j << h) * (size_t)n;

    memcpy(t, mc->one, (size_t)n * sizeof(mp_limb_t)); /* entry 0: the constant-time path uses it */
    for (i = 0; i < h; i++) {
        size_t top = (size_t)1 << i;

        memcpy(t + top * (size_t)n, cb->row + (i * v + j) * (size_t)n,
               (size_t)n * sizeof(mp_limb_t));
        for (u = 1; u < top; u++)
            tss_mont_mul(mc, t + (top + u) * (size_t)n, t + u * (size_t)n, t + top * (size_t)n);
    }
}

static inline unsigned ebit(const mp_limb_t *e, size_t elimbs, size_t pos)
{
    size_t w = pos / GMP_NUMB_BITS;

    return w < elimbs ? (unsigned)((e[w] >> (pos % GMP_NUMB_BITS)) & 1) : 0u;
}

/* acc = x^e from the tables, in Montgomery form; returns 1 (acc untouched) when x^e is the
   empty product. e has elimbs limbs. Variable time: zero columns are skipped. */
static int comb_eval_mont(const comb_t *cb, const tss_mont *mc, mp_limb_t *acc,
                          const mp_limb_t *ep, size_t elimbs)
{
    size_t h = cb->h, v = cb->v, c = cb->c, a = v * c, t, j, i;
    mp_size_t n = mc->n;
    int one = 1;

    for (t = c; t-- > 0;) {
        if (!one)
            tss_mont_sqr(mc, acc, acc);
        for (j = v; j-- > 0;) {
            size_t u = 0, pos = j * c + t;

            for (i = h; i-- > 0;)
                u = (u << 1) | ebit(ep, elimbs, i * a + pos);
            if (u == 0)
                continue;
            if (one) {
                memcpy(acc, cb->tab + ((j << h) + u) * (size_t)n, (size_t)n * sizeof(mp_limb_t));
                one = 0;
            } else {
                tss_mont_mul(mc, acc, acc, cb->tab + ((j << h) + u) * (size_t)n);
            }
        }
    }
    return one;
}

/* r = x^e from the tables; acc is n limbs of scratch */
static void comb_eval(const comb_t *cb, tss_mont *mc, mpz_t r, const mpz_t e, mp_limb_t *acc)
{
    if (comb_eval_mont(cb, mc, acc, mpz_limbs_read(e), mpz_size(e)))
        mpz_set_ui(r, 1);
    else
        tss_mont_from(mc, r, acc);
}

typedef struct {
    size_t k;
    const mpz_t *x;            /* the base, reduced */
    const mpz_t *m;
    const comb_t *cb;          /* NULL: plain mpz_powm per exponent (even modulus) */
    const unsigned char *const *ein;
    const size_t *elens;
    unsigned char *out;
    size_t mlen;
    int phase;                 /* 0: fill the tables, 1: the exponents */
    size_t next;               /* atomic: next table or exponent to take */
    int rc;                    /* atomic: first error */
} fb_job;

static void fb_fail(fb_job *job, int rc)
{
    int expected = TSS_OK;

    __atomic_compare_exchange_n(&job->rc, &expected, rc, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

static void fb_exponents(fb_job *job, tss_mont *mc, mp_limb_t *acc)
{
    mpz_t e, r;
    size_t i;
    int rc;

    mpz_inits(e, r, NULL);
    for (;;) {
        i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (i >= job->k)
            break;
        tss_import(e, job->ein[i], job->elens[i]);
        if (job->cb != NULL)
            comb_eval(job->cb, mc, r, e, acc);
        else
            tss_powm(r, *job->x, e, *job->m);
        rc = tss_export(job->out + i * job->mlen, job->mlen, r);
        if (rc != TSS_OK)
            fb_fail(job, rc);
    }
    mpz_clears(e, r, NULL);
}

static void *fb_worker(void *arg)
{
    fb_job *job = arg;
    tss_mont mc;
    mp_limb_t *acc = NULL;
    size_t j;

    if (job->cb == NULL) {
        fb_exponents(job, NULL, NULL);
        return NULL;
    }
    if (tss_mont_init(&mc, *job->m) != TSS_OK) {
        fb_fail(job, TSS_ERR_NOMEM);
        return NULL;
    }
    if (job->phase == 0) {
        while ((j = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED)) < job->cb->v)
            comb_fill(job->cb, &mc, j);
    } else {
        acc = malloc((size_t)mc.n * sizeof(mp_limb_t));
        if (acc == NULL)
            fb_fail(job, TSS_ERR_NOMEM);
        else
            fb_exponents(job, &mc, acc);
        free(acc);
    }
    tss_mont_clear(&mc);
    return NULL;
}

/* one phase of the job on this thread and, when asked, one helper */
static void fb_run(fb_job *job, int phase, int threads, size_t items)
{
    pthread_t helper;
    int have_helper = 0;

    job->phase = phase;
    job->next = 0;
    if (threads >= 2 && items >= 2)
        have_helper = pthread_create(&helper, NULL, fb_worker, job) == 0;
    fb_worker(job); /* when the helper could not start, this does all the work */
    if (have_helper)
        pthread_join(helper, NULL);
}

int tss_fixed_base_powmod(const unsigned char *b, size_t blen, size_t k,
                          const unsigned char *exps, const size_t *elens,
                          const unsigned char *m, size_t mlen, unsigned char *out, int threads)
{
    mpz_t zb, zm;
    comb_t cb = {0, 0, 0, NULL, NULL};
    tss_mont mc;
    const unsigned char **ein = NULL;
    size_t i, maxbits = 0;
    fb_job job;
    int use_comb, rc = TSS_OK;

    if (k == 0)
        return TSS_OK;
    mpz_inits(zb, zm, NULL);
    tss_import(zm, m, mlen);
    if (mpz_sgn(zm) <= 0) {
        rc = TSS_ERR_ARG;
        goto out0;
    }
    tss_import(zb, b, blen);
    if (mpz_cmp(zb, zm) >= 0)
        mpz_mod(zb, zb, zm);
    ein = malloc(k * sizeof(*ein));
    if (ein == NULL) {
        rc = TSS_ERR_NOMEM;
        goto out0;
    }
    for (i = 0; i < k; i++) {
        size_t bits = 0, j;

        ein[i] = exps;
        for (j = 0; j < elens[i] && exps[j] == 0; j++)
            ;
        if (j < elens[i]) {
            unsigned char top = exps[j];

            bits = 8 * (elens[i] - j - 1);
            while (top) {
                bits++;
                top >>= 1;
            }
        }
        if (bits > maxbits)
            maxbits = bits;
        exps += elens[i];
    }

    job.k = k;
    job.x = (const mpz_t *)&zb;
    job.m = (const mpz_t *)&zm;
    job.cb = NULL;
    job.ein = ein;
    job.elens = elens;
    job.out = out;
    job.mlen = mlen;
    job.rc = TSS_OK;
    /* m = 1 and the all-zero exponents go through tss_powm, which handles them */
    use_comb = mpz_odd_p(zm) && mpz_cmp_ui(zm, 1) > 0 && maxbits > 0;
    if (use_comb) {
        comb_choose(&cb, maxbits, k, mpz_size(zm), threads);
        rc = tss_mont_init(&mc, zm);
        if (rc != TSS_OK)
            goto out1;
        rc = comb_chain(&cb, &mc, zb);
        tss_mont_clear(&mc);
        if (rc != TSS_OK)
            goto out1;
        job.cb = &cb;
        fb_run(&job, 0, threads, cb.v);
    }
    if (job.rc == TSS_OK)
        fb_run(&job, 1, threads, k);
    rc = job.rc;

out1:
    free(cb.tab);
    free(cb.row);
    free(ein);
out0:
    mpz_clears(zb, zm, NULL);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Kept tables: a base used again and again (a party's ring-Pedersen s and t) gets its comb once,
 * held by the caller as an opaque handle, and every later power of it costs only the lookups.
 * The table is shaped for one exponent length and for per-power cost alone (the building is paid
 * once). The constant-time flavour reads every table entry with mpn_sec_tabselect, multiplies
 * even by entry 0 (one), squares with mpn_sec_sqr / mpn_sec_mul and masks the final subtraction
 * of each REDC, so its memory accesses and branches depend on the sizes only.
 * ------------------------------------------------------------------------------------------ */

struct tss_fb {
    comb_t cb;
    mp_size_t n;
    mp_limb_t *m;          /* n limbs */
    mp_limb_t minv;
    mp_limb_t *one;        /* R mod m */
    mp_limb_t *corr;       /* b^(-2^offset), or 1: every power is multiplied by it */
    size_t bits;           /* exponents below 2^bits */
    int sec;
    size_t bytes;          /* memory held */
};

/* cost of one power with h rows and v tables plus a share of the building (spread over
   KEPT_USES powers); sel: relative cost of reading one table entry in the constant-time
   lookup, 0 for the variable-time flavour */
#define KEPT_USES 32.0
#define KEPT_MAX_ENTRIES 1024

static double kept_cost(size_t bits, size_t h, size_t v, double sel, size_t *c_out)
{
    size_t a = (bits + h - 1) / h, c = (a + v - 1) / v;
    double entries = (double)((size_t)1 << h);
    double look = sel > 0.0 ? 1.0 + sel * entries : 1.0 - 1.0 / entries;
    double build = 0.85 * (double)(h * v * c) + (double)v * entries;

    *c_out = c;
    return 0.85 * (double)(c - 1) + (double)(v * c) * look + build / KEPT_USES;
}

static void kept_choose(comb_t *cb, size_t bits, size_t limbs, int sec)
{
    size_t h, v, c, best_h = 1, best_v = 1, best_c = bits;
    /* one masked read of an n-limb entry against one n x n Montgomery product: about 1 / (2 n)
       (measured ~0.5 / n for mpn_sec_tabselect against mpn_sec_mul plus REDC) */
    double sel = sec ? 0.5 / (double)limbs : 0.0, cost, best = -1.0;

    for (h = 1; h <= 10; h++) {
        for (v = 1; (v << h) <= KEPT_MAX_ENTRIES && v * h <= bits + h; v++) {
            cost = kept_cost(bits, h, v, sel, &c);
            if (best < 0.0 || cost < best - 1e-9) {
                best = cost;
                best_h = h;
                best_v = v;
                best_c = c;
            }
        }
    }
    cb->h = best_h;
    cb->v = best_v;
    cb->c = best_c;
}

void tss_fb_free(tss_fb *fb)
{
    if (fb == NULL)
        return;
    free(fb->cb.tab);
    free(fb->cb.row);
    free(fb->m);
    free(fb);
}

/* out = b^(2^offset) (plain), offset > 0, from the chain: at most c - 1 squarings past one of
   its rows */
static void kept_power(const tss_fb *fb, tss_mont *mc, size_t offset, mpz_t out,
                       mp_limb_t *scratch)
{
    const comb_t *cb = &fb->cb;
    size_t k = offset / cb->c, last = cb->h * cb->v - 1, i;

    if (k > last)
        k = last;
    memcpy(scratch, cb->row + k * (size_t)fb->n, (size_t)fb->n * sizeof(mp_limb_t));
    for (i = k * cb->c; i < offset; i++)
        tss_mont_sqr(mc, scratch, scratch);
    tss_mont_from(mc, out, scratch);
}

tss_fb *tss_fb_new(const unsigned char *b, size_t blen, const unsigned char *m, size_t mlen,
                   size_t offset, size_t bits, int sec)
{
    tss_fb *fb;
    tss_mont mc;
    mpz_t zb, zm;
    mp_size_t n;
    size_t j;
    int have_mc = 0;

    if (bits == 0)
        return NULL;
    mpz_inits(zb, zm, NULL);
    tss_import(zm, m, mlen);
    fb = calloc(1, sizeof(*fb));
    if (fb == NULL || !mpz_odd_p(zm) || mpz_cmp_ui(zm, 1) <= 0)
        goto fail;
    n = (mp_size_t)mpz_size(zm);
    fb->n = n;
    fb->bits = bits;
    fb->sec = sec != 0;
    fb->m = malloc((size_t)(3 * n) * sizeof(mp_limb_t));
    if (fb->m == NULL)
        goto fail;
    fb->one = fb->m + n;
    fb->corr = fb->m + 2 * n;
    if (tss_mont_init(&mc, zm) != TSS_OK)
        goto fail;
    have_mc = 1;
    memcpy(fb->m, mc.m, (size_t)n * sizeof(mp_limb_t));
    memcpy(fb->one, mc.one, (size_t)n * sizeof(mp_limb_t));
    fb->minv = mc.minv;
    tss_import(zb, b, blen);
    mpz_mod(zb, zb, zm);
    kept_choose(&fb->cb, bits, (size_t)n, fb->sec);
    if (offset >= bits)
        goto fail;
    if (comb_chain(&fb->cb, &mc, zb) != TSS_OK)
        goto fail;
    /* the correction b^(-2^offset), through zb (b is not needed any more) */
    if (offset) {
        kept_power(fb, &mc, offset, zb, fb->corr);
        if (!mpz_invert(zb, zb, zm))
            goto fail; /* b is not a unit */
        tss_mont_to(&mc, fb->corr, zb);
    } else {
        memcpy(fb->corr, fb->one, (size_t)n * sizeof(mp_limb_t));
    }
    for (j = 0; j < fb->cb.v; j++)
        comb_fill(&fb->cb, &mc, j);
    tss_mont_clear(&mc);
    free(fb->cb.row); /* only the tables are needed from now on */
    fb->cb.row = NULL;
    fb->bytes = sizeof(*fb) + ((fb->cb.v << fb->cb.h) + 3) * (size_t)n * sizeof(mp_limb_t);
    mpz_clears(zb, zm, NULL);
    return fb;
fail:
    if (have_mc)
        tss_mont_clear(&mc);
    mpz_clears(zb, zm, NULL);
    tss_fb_free(fb);
    return NULL;
}

size_t tss_fb_bytes(const tss_fb *fb)
{
    return fb->bytes;
}

/* --- the constant-time Montgomery product ------------------------------------------------ */

typedef struct {
    mp_size_t n;
    const mp_limb_t *m;
    mp_limb_t minv;
    mp_limb_t *t;      /* 2n limbs: the product */
    mp_limb_t *d;      /* n limbs: the trial subtraction */
    mp_limb_t *scr;    /* scratch of mpn_sec_mul / mpn_sec_sqr */
} sec_ctx;

/* r = t R^-1 mod m for t < m R (t destroyed); the final subtraction is a masked select */
static void redc_sec(const sec_ctx *c, mp_limb_t *r)
{
    mp_size_t n = c->n, i;
    mp_limb_t *up = c->t, cy, borrow, mask;

    for (i = 0; i < n; i++, up++)
        up[0] = mpn_addmul_1(up, c->m, n, up[0] * c->minv);
    cy = mpn_add_n(r, c->t + n, c->t, n);
    borrow = mpn_sub_n(c->d, r, c->m, n);
    /* subtract when r + cy R >= m: a carry, or no borrow */
    mask = -(cy | (borrow ^ 1));
    for (i = 0; i < n; i++)
        r[i] = (c->d[i] & mask) | (r[i] & ~mask);
}

static void mul_sec(const sec_ctx *c, mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b)
{
    mpn_sec_mul(c->t, a, c->n, b, c->n, c->scr);
    redc_sec(c, r);
}

static void sqr_sec(const sec_ctx *c, mp_limb_t *r, const mp_limb_t *a)
{
    mpn_sec_sqr(c->t, a, c->n, c->scr);
    redc_sec(c, r);
}

/* acc = x^e, constant time in e for e below 2^(h v c) given as `elimbs` limbs (the limb count
   covers the table's capacity); sel is n limbs of scratch */
static void comb_eval_sec(const tss_fb *fb, const sec_ctx *c, mp_limb_t *acc,
                          const mp_limb_t *ep, size_t elimbs, mp_limb_t *sel)
{
    const comb_t *cb = &fb->cb;
    size_t h = cb->h, v = cb->v, cc = cb->c, a = v * cc, t, j, i;
    mp_size_t n = c->n;

    memcpy(acc, fb->one, (size_t)n * sizeof(mp_limb_t));
    for (t = cc; t-- > 0;) {
        if (t + 1 < cc)
            sqr_sec(c, acc, acc);
        for (j = v; j-- > 0;) {
            size_t u = 0, pos = j * cc + t;

            for (i = h; i-- > 0;)
                u = (u << 1) | ebit(ep, elimbs, i * a + pos);
            mpn_sec_tabselect(sel, cb->tab + (j << h) * (size_t)n, n, (mp_size_t)1 << h,
                              (mp_size_t)u);
            mul_sec(c, acc, acc, sel);
        }
    }
}

/* el (cap limbs) = the big-endian bytes e[0..len), zero-padded; 0, or 1 when they do not fit
   below 2^bits. Reads every byte and writes every limb whatever the values. */
static int load_exponent(mp_limb_t *el, size_t cap, const unsigned char *e, size_t len,
                         size_t bits)
{
    size_t j, w;
    mp_limb_t over = 0;

    memset(el, 0, cap * sizeof(mp_limb_t));
    if (len > cap * sizeof(mp_limb_t))
        return 1;
    for (j = 0; j < len; j++) /* byte j from the end holds bits [8j, 8j + 8) */
        el[j / sizeof(mp_limb_t)] |= (mp_limb_t)e[len - 1 - j] << (8 * (j % sizeof(mp_limb_t)));
    w = bits / GMP_NUMB_BITS;
    if (bits % GMP_NUMB_BITS)
        over |= el[w] >> (bits % GMP_NUMB_BITS);
    else
        over |= el[w];
    for (j = w + 1; j < cap; j++)
        over |= el[j];
    return over != 0;
}

int tss_fb_pow(size_t k, tss_fb *const *fbs, const unsigned char *exps, const size_t *elens,
               unsigned char *out, size_t outlen)
{
    const tss_fb *f0;
    mp_size_t n, rn;
    size_t i, cap_max = 0, scr_limbs;
    mp_limb_t *mem, *acc, *res, *el, *sel;
    tss_mont mc;
    sec_ctx sc;
    mpz_t r;
    int rc = TSS_OK, sec;

    if (k == 0)
        return TSS_ERR_ARG;
    f0 = fbs[0];
    n = f0->n;
    sec = f0->sec;
    for (i = 0; i < k; i++) {
        size_t cap = fbs[i]->bits / GMP_NUMB_BITS + 1;

        if (fbs[i]->n != n || fbs[i]->sec != sec || mpn_cmp(fbs[i]->m, f0->m, n) != 0)
            return TSS_ERR_ARG;
        if (cap > cap_max)
            cap_max = cap;
    }
    scr_limbs = (size_t)mpn_sec_mul_itch(n, n);
    if ((size_t)mpn_sec_sqr_itch(n) > scr_limbs)
        scr_limbs = (size_t)mpn_sec_sqr_itch(n);
    mem = calloc((size_t)(6 * n) + cap_max + scr_limbs, sizeof(mp_limb_t));
    if (mem == NULL)
        return TSS_ERR_NOMEM;
    acc = mem;
    res = acc + n;
    sel = res + n;
    sc.t = sel + n;         /* 2n limbs */
    sc.d = sc.t + 2 * n;    /* n limbs */
    el = sc.d + n;          /* cap_max limbs */
    sc.scr = el + cap_max;
    sc.n = n;
    sc.m = f0->m;
    sc.minv = f0->minv;
    /* a context for the variable-time products on the kept modulus, with our own scratch (its
       conversion fields are not used) */
    memset(&mc, 0, sizeof(mc));
    mc.n = n;
    mc.m = (mp_limb_t *)f0->m;
    mc.minv = f0->minv;
    mc.t = sc.t;
    mc.one = f0->one;

    for (i = 0; i < k; i++) {
        const tss_fb *fb = fbs[i];
        size_t cap = fb->bits / GMP_NUMB_BITS + 1;

        if (load_exponent(el, cap, exps, elens[i], fb->bits)) {
            rc = TSS_ERR_ARG;
            goto done;
        }
        exps += elens[i];
        if (sec) {
            comb_eval_sec(fb, &sc, acc, el, cap, sel);
            mul_sec(&sc, acc, acc, fb->corr);
            if (i)
                mul_sec(&sc, res, res, acc);
            else
                memcpy(res, acc, (size_t)n * sizeof(mp_limb_t));
        } else {
            if (comb_eval_mont(&fb->cb, &mc, acc, el, cap))
                memcpy(acc, fb->one, (size_t)n * sizeof(mp_limb_t));
            tss_mont_mul(&mc, acc, acc, fb->corr);
            if (i)
                tss_mont_mul(&mc, res, res, acc);
            else
                memcpy(res, acc, (size_t)n * sizeof(mp_limb_t));
        }
    }
    /* out of Montgomery form: a product with 1 */
    memset(acc, 0, (size_t)n * sizeof(mp_limb_t));
    acc[0] = 1;
    mul_sec(&sc, res, res, acc);
    for (rn = n; rn > 0 && res[rn - 1] == 0; rn--)
        ;
    mpz_roinit_n(r, res, rn);
    rc = tss_export(out, outlen, r);
done:
    memset(mem, 0, ((size_t)(6 * n) + cap_max + scr_limbs) * sizeof(mp_limb_t));
    free(mem);
    return rc;
}
