/*
 * batch.c - many independent exponentiations in one call, on the calling thread alone or shared
 * with one extra pthread.
 *
 * The work is cut into units taken one at a time from an atomic counter, so operands of mixed
 * sizes still balance: when the AVX-512 IFMA lanes are active (lanes.c), up to eight items whose
 * moduli have the same size and whose exponents have similar lengths make one unit computed in
 * lockstep; every other item is a unit of its own for GMP. GMP functions are reentrant on
 * distinct variables; each worker has its own.
 *
 * The constant-time flavour (sec) takes mpz_powm_sec outside the lanes, and groups and orders the
 * items by the limb counts of their exponents only (what mpz_powm_sec reveals as well).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tss_internal.h"

#define LANES_MIN_BITS 256   /* smaller moduli: GMP is fast enough */
#define LANES_MIN_ITEMS 3    /* a lockstep unit costs eight lanes: not worth it for fewer */

typedef struct {
    int count;        /* 1: a GMP item; 2..8: a lanes unit */
    size_t ebits;     /* lanes: exponent bits processed */
    size_t idx[8];
} unit_t;

typedef struct {
    size_t nunits;
    const unit_t *units;
    mpz_t *r;
    const mpz_t *b, *e, *m;
    int sec;
    size_t next;   /* atomic */
    int rc;        /* atomic: first error */
} batch_job;

static void job_fail(batch_job *job, int rc)
{
    int expected = TSS_OK;

    __atomic_compare_exchange_n(&job->rc, &expected, rc, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

static void *batch_worker(void *arg)
{
    batch_job *job = arg;
    mpz_t rr[8];
    int i;

    for (i = 0; i < 8; i++)
        mpz_init(rr[i]);
    for (;;) {
        size_t u = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        const unit_t *un;

        if (u >= job->nunits)
            break;
        un = &job->units[u];
        if (un->count == 1) {
            size_t k = un->idx[0];

            if (job->sec && mpz_sgn(job->e[k]) > 0 && mpz_cmp_ui(job->m[k], 1) > 0)
                mpz_powm_sec(job->r[k], job->b[k], job->e[k], job->m[k]);
            else
                tss_powm(job->r[k], job->b[k], job->e[k], job->m[k]);
        } else {
            mpz_t b8[8], e8[8], m8[8];
            int rc;

            /* shallow copies: the lanes only read them */
            for (i = 0; i < un->count; i++) {
                b8[i][0] = job->b[un->idx[i]][0];
                e8[i][0] = job->e[un->idx[i]][0];
                m8[i][0] = job->m[un->idx[i]][0];
            }
            rc = tss_lanes_powm(un->count, rr, (const mpz_t *)b8, (const mpz_t *)e8,
                                (const mpz_t *)m8, un->ebits);
            if (rc != TSS_OK) {
                job_fail(job, rc);
                continue;
            }
            for (i = 0; i < un->count; i++)
                mpz_swap(job->r[un->idx[i]], rr[i]);
        }
    }
    for (i = 0; i < 8; i++)
        mpz_clear(rr[i]);
    return NULL;
}

typedef struct {
    size_t digits, eorder, ebits, i;
} cand_t;

static int cand_cmp(const void *x, const void *y)
{
    const cand_t *a = x, *b = y;

    if (a->digits != b->digits)
        return a->digits < b->digits ? -1 : 1;
    if (a->eorder != b->eorder)
        return a->eorder < b->eorder ? -1 : 1;
    return a->i < b->i ? -1 : (a->i > b->i);
}

/* the units: lockstep groups of up to eight candidates of one size and similar exponents, and
   one unit per remaining item */
static size_t plan_units(unit_t *units, size_t n, const mpz_t *e, const mpz_t *m, int sec)
{
    cand_t *c = NULL;
    size_t nc = 0, nu = 0, i, j;
    unsigned char *done;

    done = calloc(n ? n : 1, 1);
    if (tss_lanes_active() && done != NULL)
        c = malloc(n * sizeof(*c));
    if (c != NULL) {
        for (i = 0; i < n; i++) {
            size_t mb = mpz_sizeinbase(m[i], 2);

            if (!mpz_odd_p(m[i]) || mb < LANES_MIN_BITS || mpz_sgn(e[i]) == 0)
                continue;
            c[nc].digits = tss_lanes_digits(mb);
            c[nc].eorder = sec ? mpz_size(e[i]) * GMP_NUMB_BITS : mpz_sizeinbase(e[i], 2);
            c[nc].ebits = c[nc].eorder;
            c[nc].i = i;
            nc++;
        }
        qsort(c, nc, sizeof(*c), cand_cmp);
        for (i = 0; i < nc;) {
            size_t k = 1, maxbits = c[i].ebits;

            /* up to eight of one size whose exponents differ by at most a quarter */
            while (k < 8 && i + k < nc && c[i + k].digits == c[i].digits &&
                   c[i + k].ebits <= c[i].ebits + c[i].ebits / 4 + 64) {
                if (c[i + k].ebits > maxbits)
                    maxbits = c[i + k].ebits;
                k++;
            }
            if (k >= LANES_MIN_ITEMS) {
                units[nu].count = (int)k;
                units[nu].ebits = maxbits;
                for (j = 0; j < k; j++) {
                    units[nu].idx[j] = c[i + j].i;
                    done[c[i + j].i] = 1;
                }
                nu++;
            }
            i += k;
        }
        free(c);
    }
    for (i = 0; i < n; i++) {
        if (done != NULL && done[i])
            continue;
        units[nu].count = 1;
        units[nu].ebits = 0;
        units[nu].idx[0] = i;
        nu++;
    }
    free(done);
    return nu;
}

int tss_run_batch(size_t n, mpz_t *r, const mpz_t *b, const mpz_t *e, const mpz_t *m, int threads,
                  int sec)
{
    batch_job job;
    unit_t *units;
    pthread_t helper;
    int have_helper = 0;

    if (n == 0)
        return TSS_OK;
    units = malloc(n * sizeof(*units));
    if (units == NULL)
        return TSS_ERR_NOMEM;
    job.nunits = plan_units(units, n, e, m, sec);
    job.units = units;
    job.r = r;
    job.b = b;
    job.e = e;
    job.m = m;
    job.sec = sec;
    job.next = 0;
    job.rc = TSS_OK;
    if (threads >= 2 && job.nunits >= 2)
        have_helper = pthread_create(&helper, NULL, batch_worker, &job) == 0;
    batch_worker(&job); /* when the helper could not start, this does all the work */
    if (have_helper)
        pthread_join(helper, NULL);
    free(units);
    return job.rc;
}

/* ------------------------------------------------------------------------ the byte API */

/* n triples b e m from data/lens into mpz arrays (b reduced); TSS_ERR_ARG for a modulus <= 0 or,
   with sec, an even modulus or a zero exponent */
static int import_triples(size_t n, const unsigned char *data, const size_t *lens, mpz_t *b,
                          mpz_t *e, mpz_t *m, int sec)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const size_t *l = lens + 3 * i;

        tss_import(b[i], data, l[0]);
        tss_import(e[i], data + l[0], l[1]);
        tss_import(m[i], data + l[0] + l[1], l[2]);
        data += l[0] + l[1] + l[2];
        if (mpz_sgn(m[i]) <= 0 || (sec && (!mpz_odd_p(m[i]) || mpz_sgn(e[i]) == 0)))
            return TSS_ERR_ARG;
        if (mpz_cmp(b[i], m[i]) >= 0)
            mpz_mod(b[i], b[i], m[i]);
    }
    return TSS_OK;
}

static int batch_bytes(size_t n, const unsigned char *data, const size_t *lens,
                       unsigned char *out, int threads, int sec)
{
    mpz_t *v;
    size_t i;
    int rc;

    if (n == 0)
        return TSS_OK;
    v = malloc(4 * n * sizeof(mpz_t));
    if (v == NULL)
        return TSS_ERR_NOMEM;
    for (i = 0; i < 4 * n; i++)
        mpz_init(v[i]);
    rc = import_triples(n, data, lens, v, v + n, v + 2 * n, sec);
    if (rc == TSS_OK)
        rc = tss_run_batch(n, v + 3 * n, v, v + n, v + 2 * n, threads, sec);
    for (i = 0; i < n && rc == TSS_OK; i++) {
        rc = tss_export(out, lens[3 * i + 2], v[3 * n + i]);
        out += lens[3 * i + 2];
    }
    for (i = 0; i < 4 * n; i++) {
        if (sec)
            mpz_set_ui(v[i], 0);
        mpz_clear(v[i]);
    }
    free(v);
    return rc;
}

int tss_batch_powmod(size_t n, const unsigned char *data, const size_t *lens,
                     unsigned char *out, int threads)
{
    return batch_bytes(n, data, lens, out, threads, 0);
}

int tss_batch_powmod_sec(size_t n, const unsigned char *data, const size_t *lens,
                         unsigned char *out, int threads)
{
    return batch_bytes(n, data, lens, out, threads, 1);
}

int tss_batch_crt_powmod(size_t n, const unsigned char *data, const size_t *lens,
                         const unsigned char *m1, size_t m1len, const unsigned char *m2,
                         size_t m2len, const unsigned char *phi1, size_t phi1len,
                         const unsigned char *phi2, size_t phi2len,
                         const unsigned char *coeff, size_t coefflen,
                         unsigned char *out, size_t outlen, int threads)
{
    mpz_t zm[2], zp[2], zc, t, *v;
    size_t i, h, nv = 8 * n;
    int rc = TSS_OK;

    if (n == 0)
        return TSS_OK;
    v = malloc(nv * sizeof(mpz_t));
    if (v == NULL)
        return TSS_ERR_NOMEM;
    mpz_inits(zm[0], zm[1], zp[0], zp[1], zc, t, NULL);
    for (i = 0; i < nv; i++)
        mpz_init(v[i]);
    tss_import(zm[0], m1, m1len);
    tss_import(zm[1], m2, m2len);
    tss_import(zp[0], phi1, phi1len);
    tss_import(zp[1], phi2, phi2len);
    tss_import(zc, coeff, coefflen);
    if (!mpz_odd_p(zm[0]) || !mpz_odd_p(zm[1]) || mpz_cmp_ui(zm[0], 1) <= 0 ||
        mpz_cmp_ui(zm[1], 1) <= 0 || mpz_sgn(zp[0]) <= 0 || mpz_sgn(zp[1]) <= 0) {
        rc = TSS_ERR_ARG;
        goto done;
    }
    /* halves: v[0..2n) bases, v[2n..4n) exponents, v[4n..6n) moduli, v[6n..8n) results; half
       h of item i at index 2i + h. As crt_powmod does: the exponent is reduced modulo phi_h
       when the base is a unit modulo m_h, and a zero exponent gives 1. */
    for (i = 0; i < n; i++) {
        mpz_t *bi = &v[2 * i], *ei = &v[2 * n + 2 * i], *mi = &v[4 * n + 2 * i];

        tss_import(t, data, lens[2 * i]);
        for (h = 0; h < 2; h++) {
            mpz_mod(bi[h], t, zm[h]);
            tss_import(ei[h], data + lens[2 * i], lens[2 * i + 1]);
            mpz_gcd(mi[h], bi[h], zm[h]);
            if (mpz_cmp_ui(mi[h], 1) == 0)
                mpz_mod(ei[h], ei[h], zp[h]);
            mpz_set(mi[h], zm[h]);
        }
        data += lens[2 * i] + lens[2 * i + 1];
    }
    {
        /* zero exponents are left out of the constant-time batch (their power is 1) */
        size_t *map = malloc(2 * n * sizeof(size_t)), k = 0, j;
        mpz_t *cb, *ce, *cm, *cr;

        if (map == NULL) {
            rc = TSS_ERR_NOMEM;
            goto done;
        }
        for (j = 0; j < 2 * n; j++)
            if (mpz_sgn(v[2 * n + j]) != 0)
                map[k++] = j;
            else
                mpz_set_ui(v[6 * n + j], 1);
        cb = malloc(4 * (k ? k : 1) * sizeof(mpz_t));
        if (cb == NULL) {
            free(map);
            rc = TSS_ERR_NOMEM;
            goto done;
        }
        ce = cb + k;
        cm = ce + k;
        cr = cm + k;
        for (j = 0; j < k; j++) { /* shallow copies */
            cb[j][0] = v[map[j]][0];
            ce[j][0] = v[2 * n + map[j]][0];
            cm[j][0] = v[4 * n + map[j]][0];
            mpz_init(cr[j]);
        }
        rc = tss_run_batch(k, cr, (const mpz_t *)cb, (const mpz_t *)ce, (const mpz_t *)cm,
                           threads, 1);
        for (j = 0; j < k; j++) {
            mpz_swap(v[6 * n + map[j]], cr[j]);
            mpz_clear(cr[j]);
        }
        free(cb);
        free(map);
    }
    /* Garner: r1 + m1 ((r2 - r1) coeff mod m2) */
    for (i = 0; i < n && rc == TSS_OK; i++) {
        mpz_sub(t, v[6 * n + 2 * i + 1], v[6 * n + 2 * i]);
        mpz_mul(t, t, zc);
        mpz_mod(t, t, zm[1]);
        mpz_mul(t, t, zm[0]);
        mpz_add(t, t, v[6 * n + 2 * i]);
        rc = tss_export(out + i * outlen, outlen, t);
    }
done:
    for (i = 0; i < nv; i++) {
        mpz_set_ui(v[i], 0);
        mpz_clear(v[i]);
    }
    free(v);
    mpz_set_ui(t, 0);
    mpz_clears(zm[0], zm[1], zp[0], zp[1], zc, t, NULL);
    return rc;
}
