/* numeric: dense matrices, correlation, summaries and Welch's t-test for
 * in-process analysis of counter data. Pure C; nothing here knows Lua. */
#ifndef AP_NUMERIC_H
#define AP_NUMERIC_H

#include <stddef.h>

/* rows x cols doubles, row-major: rows are variables (events), columns are
 * observations (intervals). */
struct ap_matrix {
	size_t rows, cols;
	double *data; /* NULL once freed */
};

/* Zero-filled. Returns 0 or -ENOMEM (also when rows * cols overflows). */
int ap_matrix_init(struct ap_matrix *m, size_t rows, size_t cols);
/* Safe to call twice. */
void ap_matrix_free(struct ap_matrix *m);

static inline double *ap_matrix_row(const struct ap_matrix *m, size_t i)
{
	return m->data + i * m->cols;
}

enum ap_corr_method { AP_PEARSON, AP_SPEARMAN };

/* r (initialised by the caller as x->rows x x->rows) receives the
 * correlation of every pair of rows of x. A row that is constant or holds
 * a non-finite value has NaN in its row and column, its diagonal included;
 * every other diagonal entry is 1 and the rest lie in [-1, 1]. Spearman
 * gives tied values their average rank. Returns 0 or -ENOMEM. */
int ap_correlation(const struct ap_matrix *x, struct ap_matrix *r,
		   enum ap_corr_method method);

/* Does ap_correlation run on BLAS (OpenBLAS, loaded on first use)? */
int ap_correlation_uses_blas(void);

/* Average ranks (1-based, ties share the mean of their ranks) of x[0..n)
 * into rank; NaN sorts after every number. Returns 0 or -ENOMEM. */
int ap_rank(const double *x, size_t n, double *rank);

struct ap_pair {
	size_t i, j; /* 0-based, i < j */
	double r;
};

/* The up to k entries above the diagonal of the square matrix r with the
 * largest |r| (ties: smaller i, then smaller j first), NaN skipped, best
 * first, into out[0..k). Returns how many were written. O(n^2 log k). */
size_t ap_top_pairs(const struct ap_matrix *r, size_t k, struct ap_pair *out);

struct ap_summary {
	size_t n;
	double sum, mean, var, std, min, max, cv;
};

/* var is the sample variance (n - 1 denominator, 0 for one value), cv is
 * std / |mean| (NaN when mean is 0). Only n is set when n is 0. */
void ap_describe(const double *x, size_t n, struct ap_summary *s);

/* Sorts x in place, NaN last. */
void ap_sort(double *x, size_t n);
/* Quantile p in [0, 1] of sorted[0..n), n > 0, interpolating linearly
 * between order statistics (R type 7, numpy's default). */
double ap_quantile_sorted(const double *sorted, size_t n, double p);

struct ap_welch {
	double t, df, p;
	double mean_a, mean_b, diff, rel, d;
	size_t n_a, n_b;
};

/* Welch's unequal-variance t-test of b against a: t = (mean_b - mean_a) /
 * sqrt(var_a/n_a + var_b/n_b), Welch-Satterthwaite df, two-sided p.
 * d is Cohen's d with sd = sqrt((var_a + var_b) / 2). When both variances
 * are 0, t and d are +-inf and p is 0 if the means differ, and t and d are
 * 0 and p is 1 if they are equal; df is NaN then (0/0: undefined).
 * Returns 0, or -1 when a side has fewer than 2 values. */
int ap_welch(const double *a, size_t na, const double *b, size_t nb,
	     struct ap_welch *w);

/* Regularized incomplete beta I_x(a, b) for a, b > 0, x in [0, 1];
 * y must be 1 - x, passed separately so that callers near x = 1 keep its
 * precision. NaN for arguments outside the domain. */
double ap_betai(double a, double b, double x, double y);

/* Two-sided p-value P(|T| >= |t|) of Student's t with df > 0 degrees of
 * freedom (df may be +inf: the normal distribution). */
double ap_t_sf(double t, double df);

/* One merge of an agglomerative clustering, as scipy's linkage gives it:
 * clusters 0..n-1 are the leaves, merge k creates cluster n + k. */
struct ap_merge {
	size_t a, b;   /* the clusters merged, a < b */
	double height; /* their distance */
	size_t size;   /* leaves in the new cluster */
};

/* Average-linkage (UPGMA) hierarchical clustering of the n rows of the
 * square correlation matrix r on the distance 1 - |r| (NaN: distance 1),
 * by the nearest-neighbour chain (O(n^2) time and memory: 2300 events in
 * well under a second). out[0..n-1) receives the merges, lowest first.
 * Returns 0, -EINVAL for a matrix that is not square, or -ENOMEM. */
int ap_cluster_average(const struct ap_matrix *r, struct ap_merge *out);

#endif
