/*
 * batch.c - many independent exponentiations in one call, on the calling thread alone or shared
 * with one extra pthread. The items are handed out one at a time from an atomic counter, so
 * operands of mixed sizes still balance. GMP functions are reentrant on distinct variables;
 * each worker has its own.
 */
#include <pthread.h>
#include <stdlib.h>

#include "tss_internal.h"

typedef struct {
    size_t n;
    const unsigned char *const *in;   /* per item: pointer to b (then e, then m) */
    const size_t *lens;
    unsigned char *const *out;        /* per item: its output slot */
    size_t next;                      /* next item to take (atomic) */
    int rc;                           /* first error seen (atomic), TSS_OK otherwise */
} batch_job;

static void *batch_worker(void *arg)
{
    batch_job *job = arg;
    mpz_t b, e, m;
    size_t i;
    int rc;

    mpz_inits(b, e, m, NULL);
    for (;;) {
        const unsigned char *p;
        const size_t *l;

        i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (i >= job->n)
            break;
        p = job->in[i];
        l = job->lens + 3 * i;
        tss_import(m, p + l[0] + l[1], l[2]);
        if (mpz_sgn(m) <= 0) {
            rc = TSS_ERR_ARG;
        } else {
            tss_import(b, p, l[0]);
            tss_import(e, p + l[0], l[1]);
            tss_powm(b, b, e, m);
            rc = tss_export(job->out[i], l[2], b);
        }
        if (rc != TSS_OK) {
            int expected = TSS_OK;
            __atomic_compare_exchange_n(&job->rc, &expected, rc, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED);
        }
    }
    mpz_clears(b, e, m, NULL);
    return NULL;
}

int tss_batch_powmod(size_t n, const unsigned char *data, const size_t *lens,
                     unsigned char *out, int threads)
{
    batch_job job;
    const unsigned char **in;
    unsigned char **outp;
    pthread_t helper;
    int have_helper = 0;
    size_t i;

    if (n == 0)
        return TSS_OK;
    in = malloc(n * sizeof(*in));
    outp = malloc(n * sizeof(*outp));
    if (in == NULL || outp == NULL) {
        free(in);
        free(outp);
        return TSS_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        in[i] = data;
        outp[i] = out;
        data += lens[3 * i] + lens[3 * i + 1] + lens[3 * i + 2];
        out += lens[3 * i + 2];
    }
    job.n = n;
    job.in = in;
    job.lens = lens;
    job.out = outp;
    job.next = 0;
    job.rc = TSS_OK;

    if (threads >= 2 && n >= 2)
        have_helper = pthread_create(&helper, NULL, batch_worker, &job) == 0;
    batch_worker(&job); /* when the helper could not start, this does all the work */
    if (have_helper)
        pthread_join(helper, NULL);

    free(in);
    free(outp);
    return job.rc;
}
