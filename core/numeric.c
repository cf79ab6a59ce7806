#include "numeric.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ap_matrix_init(struct ap_matrix *m, size_t rows, size_t cols)
{
	m->rows = m->cols = 0;
	m->data = NULL;
	if (cols && rows > SIZE_MAX / sizeof(double) / cols)
		return -ENOMEM;
	size_t n = rows * cols;
	m->data = calloc(n ? n : 1, sizeof(double));
	if (!m->data)
		return -ENOMEM;
	m->rows = rows;
	m->cols = cols;
	return 0;
}

void ap_matrix_free(struct ap_matrix *m)
{
	free(m->data);
	m->data = NULL;
	m->rows = m->cols = 0;
}

/* ---- sorting and ranks ------------------------------------------------ */

/* A total order with NaN after every number, so sorts and ranks stay
 * well defined on data with holes. */
static int before(double a, double b)
{
	return a < b || (b != b && a == a);
}

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

void ap_sort(double *x, size_t n)
{
	qsort(x, n, sizeof(*x), cmp_double);
}

struct keyed {
	double v;
	size_t i;
};

/* Bottom-up merge sort of (value, index) pairs: stable, no recursion, and
 * the comparison inlined (ranking every row of a wide matrix is hot enough
 * for qsort's indirect calls to show). Result in a or tmp; returns which. */
static struct keyed *merge_sort(struct keyed *a, struct keyed *tmp, size_t n)
{
	/* Runs of 8 by insertion first. */
	for (size_t lo = 0; lo < n; lo += 8) {
		size_t hi = lo + 8 < n ? lo + 8 : n;
		for (size_t i = lo + 1; i < hi; i++) {
			struct keyed k = a[i];
			size_t j = i;
			for (; j > lo && before(k.v, a[j - 1].v); j--)
				a[j] = a[j - 1];
			a[j] = k;
		}
	}
	struct keyed *src = a, *dst = tmp;
	for (size_t w = 8; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, o = lo;
			while (i < mid && j < hi)
				dst[o++] = before(src[j].v, src[i].v) ? src[j++] : src[i++];
			while (i < mid)
				dst[o++] = src[i++];
			while (j < hi)
				dst[o++] = src[j++];
		}
		struct keyed *t = src;
		src = dst;
		dst = t;
	}
	return src;
}

/* Ranks with a caller's scratch of 2n keyed pairs. */
static void rank_with(const double *x, size_t n, double *rank, struct keyed *buf)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (struct keyed){x[i], i};
	struct keyed *s = merge_sort(buf, buf + n, n);
	for (size_t lo = 0; lo < n;) {
		size_t hi = lo + 1;
		while (hi < n && s[hi].v == s[lo].v)
			hi++;
		/* Ranks lo+1 .. hi share their mean; NaN (never equal) gets NaN. */
		double r = s[lo].v != s[lo].v ? NAN : (double)(lo + 1 + hi) / 2;
		for (size_t k = lo; k < hi; k++)
			rank[s[k].i] = r;
		lo = hi;
	}
}

int ap_rank(const double *x, size_t n, double *rank)
{
	struct keyed *buf = malloc((n ? 2 * n : 1) * sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	rank_with(x, n, rank, buf);
	free(buf);
	return 0;
}

/* ---- correlation ------------------------------------------------------ */

/*
 * R = Z Z^T where each row of Z is its row of X centred and scaled to unit
 * length: a symmetric rank-k update, BLAS's dsyrk. OpenBLAS (Debian's
 * libopenblas0-pthread, its threads on every core) is loaded on first use
 * (dlopen of the library the build found, an absolute path) with every
 * signal blocked, so that its thread pool never takes a signal meant for
 * autoperf's main thread (the REPL's Ctrl-C, the runner's SIGCHLD).
 * Where it cannot be loaded (a static build: the arm64 lane) a plain loop
 * computes the same upper triangle. Standardising the rows before and
 * mirroring the triangle after are split over threads of our own
 * (in_parts), one per CPU.
 */
#ifdef AP_OPENBLAS
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

static __typeof__(cblas_dsyrk) *dsyrk_fn;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_load(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	/* Never closed: its threads live as long as the process. */
	void *h = dlopen(AP_OPENBLAS, RTLD_NOW | RTLD_LOCAL);
	if (h)
		*(void **)&dsyrk_fn = dlsym(h, "cblas_dsyrk");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
#endif

/* g's upper triangle (row-major, n x n) = z z^T for z n x m row-major.
 * Returns 1 when BLAS did it. */
static int gram_upper(const double *z, size_t n, size_t m, double *g)
{
#ifdef AP_OPENBLAS
	pthread_once(&blas_once, blas_load);
	if (dsyrk_fn && n <= INT32_MAX && m <= INT32_MAX) {
		/* Also around every call: OpenBLAS stops its threads before a
		 * fork (its atfork handler) and starts them again on the next
		 * call, from this thread, with this thread's mask. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		dsyrk_fn(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)m, 1.0, z,
			 (int)(m ? m : 1), 0.0, g, (int)(n ? n : 1));
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
#endif
	for (size_t i = 0; i < n; i++) {
		const double *a = z + i * m;
		for (size_t j = i; j < n; j++) {
			const double *b = z + j * m;
			double acc = 0;
			for (size_t k = 0; k < m; k++)
				acc += a[k] * b[k];
			g[i * n + j] = acc;
		}
	}
	return 0;
}

int ap_correlation_uses_blas(void)
{
#ifdef AP_OPENBLAS
	pthread_once(&blas_once, blas_load);
	return dsyrk_fn != NULL;
#else
	return 0;
#endif
}

/* Centres and scales x[0..n) into z (stride apart) so that it sums to 0
 * and its squares to 1. Returns 0, or -1 (z left 0) when x is constant or
 * holds a non-finite value: its correlations are undefined. */
static int standardize(const double *x, size_t n, double *z, size_t stride)
{
	double mn = x[0], mx = x[0], sum = 0;
	for (size_t k = 0; k < n; k++) {
		if (!isfinite(x[k]))
			return -1;
		mn = x[k] < mn ? x[k] : mn;
		mx = x[k] > mx ? x[k] : mx;
		sum += x[k];
	}
	/* Exact test: a constant row's computed mean may differ from its
	 * value by rounding, which would scale pure noise up to unit length. */
	if (mn == mx)
		return -1;
	/* Two passes, the second correcting the mean by the residual sum. */
	double mean = sum / (double)n, res = 0;
	for (size_t k = 0; k < n; k++)
		res += x[k] - mean;
	mean += res / (double)n;
	double ss = 0;
	for (size_t k = 0; k < n; k++) {
		const double d = x[k] - mean;
		ss += d * d;
	}
	if (!(ss > 0) || !isfinite(ss))
		return -1;
	const double scale = 1 / sqrt(ss);
	for (size_t k = 0; k < n; k++)
		z[k * stride] = (x[k] - mean) * scale;
	return 0;
}

/* Clamps the upper triangle, mirrors it and sets the diagonal and the
 * undefined rows. The mirror goes through a block copied transposed: a
 * column of g is rows n x 8 bytes apart, a multiple of 4 KiB whenever n
 * is of 512, so that writing it straight takes a line of one L1 set per
 * element (2000 x 2000: 31 ms, through the block 5 ms). */
static double clamp1(double r)
{
	return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* The blocks of rows part, part + parts, ... of g clamped and mirrored. */
static void mirror(double *g, size_t n, size_t part, size_t parts)
{
	enum { B = 32 };
	double t[B][B];
	for (size_t i0 = part * B; i0 < n; i0 += parts * B) {
		const size_t ie = i0 + B < n ? i0 + B : n;
		/* the diagonal block: element by element */
		for (size_t i = i0; i < ie; i++)
			for (size_t j = i + 1; j < ie; j++)
				g[i * n + j] = g[j * n + i] = clamp1(g[i * n + j]);
		for (size_t j0 = ie; j0 < n; j0 += B) {
			const size_t je = j0 + B < n ? j0 + B : n;
			for (size_t i = i0; i < ie; i++) {
				double *row = g + i * n;
				for (size_t j = j0; j < je; j++)
					t[j - j0][i - i0] = row[j] = clamp1(row[j]);
			}
			for (size_t j = j0; j < je; j++)
				memcpy(g + j * n + i0, t[j - j0], (ie - i0) * sizeof(double));
		}
	}
}

/* The diagonal, and the undefined rows and columns NaN. */
static void diagonal(double *g, size_t n, const unsigned char *bad)
{
	for (size_t i = 0; i < n; i++) {
		if (!bad[i]) {
			g[i * n + i] = 1;
			continue;
		}
		for (size_t j = 0; j < n; j++)
			g[i * n + j] = g[j * n + i] = NAN;
	}
}

/* Work split in parts, one thread each (one per CPU, at most
 * MAX_PARTS), the caller's thread doing part 0. A thread that cannot be
 * started leaves its part to the caller. The threads take no signal (all
 * blocked while they start: the mask is inherited). */
#define MAX_PARTS 16
typedef void part_fn(void *ctx, size_t part, size_t parts);
struct part_arg {
	part_fn *fn;
	void *ctx;
	size_t part, parts;
};

static void *run_part(void *p)
{
	struct part_arg *a = p;
	a->fn(a->ctx, a->part, a->parts);
	return NULL;
}

static void in_parts(part_fn *fn, void *ctx, size_t work)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t parts = cpus < 1 ? 1 : cpus > MAX_PARTS ? MAX_PARTS : (size_t)cpus;
	if (work < 1u << 16) /* not worth a thread */
		parts = 1;
	pthread_t th[MAX_PARTS];
	struct part_arg a[MAX_PARTS];
	int started[MAX_PARTS] = {0};
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (size_t k = 1; k < parts; k++) {
		a[k] = (struct part_arg){fn, ctx, k, parts};
		started[k] = pthread_create(&th[k], NULL, run_part, &a[k]) == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	fn(ctx, 0, parts);
	for (size_t k = 1; k < parts; k++) {
		if (started[k])
			pthread_join(th[k], NULL);
		else
			fn(ctx, k, parts);
	}
}

/* One correlation's work, shared by its parts. */
struct corr {
	const struct ap_matrix *x;
	enum ap_corr_method method;
	double *z, *g;
	unsigned char *bad;
	int err[MAX_PARTS];
};

/* Rows part x n / parts .. of x, ranked for Spearman, standardised into z. */
static void standardize_part(void *p, size_t part, size_t parts)
{
	struct corr *c = p;
	const size_t n = c->x->rows, m = c->x->cols;
	double *ranks = NULL;
	struct keyed *keys = NULL;
	if (c->method == AP_SPEARMAN) {
		ranks = malloc((m ? m : 1) * sizeof(*ranks));
		keys = malloc((m ? 2 * m : 1) * sizeof(*keys));
		if (!ranks || !keys) {
			c->err[part] = -ENOMEM;
			goto done;
		}
	}
	for (size_t i = n * part / parts; i < n * (part + 1) / parts; i++) {
		const double *row = ap_matrix_row(c->x, i);
		if (m == 0) {
			c->bad[i] = 1;
			continue;
		}
		if (ranks) {
			rank_with(row, m, ranks, keys);
			row = ranks;
		}
		c->bad[i] = standardize(row, m, c->z + i * m, 1) != 0;
	}
done:
	free(ranks);
	free(keys);
}

static void mirror_part(void *p, size_t part, size_t parts)
{
	struct corr *c = p;
	mirror(c->g, c->x->rows, part, parts);
}

int ap_correlation(const struct ap_matrix *x, struct ap_matrix *r,
		   enum ap_corr_method method)
{
	const size_t n = x->rows, m = x->cols;
	struct corr c = {.x = x, .method = method, .g = r->data};
	int err = -ENOMEM;
	c.bad = calloc(n ? n : 1, 1);
	if (!c.bad)
		goto fail;
	if (m && n > SIZE_MAX / sizeof(double) / m)
		goto fail;
	const size_t cells = n * m;
	c.z = calloc(cells ? cells : 1, sizeof(double));
	if (!c.z)
		goto fail;
	in_parts(standardize_part, &c, cells);
	for (size_t k = 0; k < MAX_PARTS; k++)
		if (c.err[k]) {
			err = c.err[k];
			goto fail;
		}
	gram_upper(c.z, n, m, r->data);
	in_parts(mirror_part, &c, n * n);
	diagonal(r->data, n, c.bad);
	err = 0;
fail:
	free(c.bad);
	free(c.z);
	return err;
}

/* ---- top pairs -------------------------------------------------------- */

/* x ranks below y: smaller |r|, then larger i, then larger j. */
static int worse(const struct ap_pair *x, const struct ap_pair *y)
{
	const double ax = fabs(x->r), ay = fabs(y->r);
	if (ax != ay)
		return ax < ay;
	if (x->i != y->i)
		return x->i > y->i;
	return x->j > y->j;
}

/* A heap with the worst kept pair at its root. */
static void sift_down(struct ap_pair *h, size_t n, size_t at)
{
	for (;;) {
		size_t w = at, l = 2 * at + 1, r = l + 1;
		if (l < n && worse(&h[l], &h[w]))
			w = l;
		if (r < n && worse(&h[r], &h[w]))
			w = r;
		if (w == at)
			return;
		const struct ap_pair t = h[at];
		h[at] = h[w];
		h[w] = t;
		at = w;
	}
}

static void sift_up(struct ap_pair *h, size_t at)
{
	while (at > 0) {
		size_t up = (at - 1) / 2;
		if (!worse(&h[at], &h[up]))
			return;
		const struct ap_pair t = h[at];
		h[at] = h[up];
		h[up] = t;
		at = up;
	}
}

size_t ap_top_pairs(const struct ap_matrix *r, size_t k, struct ap_pair *out)
{
	const size_t n = r->rows;
	size_t len = 0;
	if (k == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const double *row = ap_matrix_row(r, i);
		for (size_t j = i + 1; j < n; j++) {
			if (row[j] != row[j])
				continue;
			const struct ap_pair c = {i, j, row[j]};
			if (len < k) {
				out[len] = c;
				sift_up(out, len++);
			} else if (worse(&out[0], &c)) {
				out[0] = c;
				sift_down(out, len, 0);
			}
		}
	}
	/* Heap sort: the worst goes to the end each time, so best first. */
	for (size_t end = len; end > 1; end--) {
		const struct ap_pair t = out[0];
		out[0] = out[end - 1];
		out[end - 1] = t;
		sift_down(out, end - 1, 0);
	}
	return len;
}

/* ---- summaries and quantiles ------------------------------------------ */

void ap_describe(const double *x, size_t n, struct ap_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	if (!n)
		return;
	/* Neumaier's compensated sum: counter values span many magnitudes. */
	double sum = 0, comp = 0, mn = x[0], mx = x[0];
	for (size_t i = 0; i < n; i++) {
		const double v = x[i], t = sum + v;
		comp += fabs(sum) >= fabs(v) ? (sum - t) + v : (v - t) + sum;
		sum = t;
		/* NaN, once seen, stays (v != v catches it). */
		mn = v < mn || v != v ? v : mn;
		mx = v > mx || v != v ? v : mx;
	}
	sum += comp;
	double mean = sum / (double)n, res = 0, ss = 0;
	for (size_t i = 0; i < n; i++)
		res += x[i] - mean;
	mean += res / (double)n;
	for (size_t i = 0; i < n; i++) {
		const double d = x[i] - mean;
		ss += d * d;
	}
	s->sum = sum;
	s->mean = mean;
	s->min = mn;
	s->max = mx;
	s->var = n > 1 ? ss / (double)(n - 1) : 0;
	s->std = sqrt(s->var);
	s->cv = mean == 0 ? NAN : s->std / fabs(mean);
}

double ap_quantile_sorted(const double *sorted, size_t n, double p)
{
	const double h = (double)(n - 1) * p;
	const size_t lo = (size_t)floor(h);
	const double frac = h - (double)lo;
	if (lo + 1 >= n || frac == 0)
		return sorted[lo < n ? lo : n - 1];
	return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

/* ---- Student's t and Welch's test ------------------------------------- */

/*
 * I_x(a, b) = x^a y^b / (a B(a, b)) / K, with K the continued fraction
 *   K = 1 + d1 / (1 + d2 / (1 + d3 / ...))
 *   d(2m+1) = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
 *   d(2m)   = m (b - m) x / ((a + 2m - 1)(a + 2m))
 * which converges quickly for x < (a + 1) / (a + b + 2); above that,
 * I_x(a, b) = 1 - I_y(b, a). K is evaluated forwards by the modified
 * Lentz method: K = prod C_n D_n with C_n = 1 + d_n / C_(n-1) and
 * D_n = 1 / (1 + d_n D_(n-1)), C_0 = 1, D_0 = 0, either clamped away
 * from 0; it stops when a factor C_n D_n is 1 to within rounding. An
 * integer b ends the fraction exactly (d(2b) = 0).
 */
static double beta_cf_term(double a, double b, double x, unsigned n)
{
	const double m = (double)(n / 2);
	if (n % 2)
		return -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
	return m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
}

static double beta_cf(double a, double b, double x)
{
	const double tiny = DBL_MIN / DBL_EPSILON;
	double k = 1, c = 1, d = 0;
	/* Terms needed grow like sqrt(max(a, b)); 1e6 covers df up to ~1e11. */
	for (unsigned n = 1; n <= 1000000; n++) {
		const double dn = beta_cf_term(a, b, x, n);
		d = 1 + dn * d;
		if (fabs(d) < tiny)
			d = tiny;
		d = 1 / d;
		c = 1 + dn / c;
		if (fabs(c) < tiny)
			c = tiny;
		const double f = c * d;
		k *= f;
		if (fabs(f - 1) <= DBL_EPSILON)
			break;
	}
	return k;
}

/* lgamma(x) - ((x - 1/2) ln x - x + ln(2 pi)/2) for x >= 10: Stirling's
 * series to the x^-9 term (the next is below 2e-14 there). */
static double stirling_rest(double x)
{
	const double r = 1 / (x * x);
	return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r * (1.0 / 1680 - r / 1188)))) / x;
}

/* ln B(a, b). For a large argument lgamma(big) - lgamma(big + small) is a
 * difference of two huge numbers (df = 1e12 would lose 5 digits); the
 * series gives it directly. */
static double lbeta(double a, double b)
{
	const double big = a > b ? a : b, small = a > b ? b : a;
	if (big < 10)
		return lgamma(a) + lgamma(b) - lgamma(a + b);
	const double d = -(big - 0.5) * log1p(small / big) - small * log(big + small) + small +
			 stirling_rest(big) - stirling_rest(big + small);
	return lgamma(small) + d;
}

/* ln x, from whichever of x and y = 1 - x holds it precisely. */
static double log_of(double x, double y)
{
	return x > 0.5 ? log1p(-y) : log(x);
}

/* x^a y^b / (a B(a, b)), in logarithms: the terms over- and underflow
 * separately long before their product does. */
static double beta_front(double a, double b, double x, double y)
{
	return exp(a * log_of(x, y) + b * log_of(y, x) - lbeta(a, b)) / a;
}

double ap_betai(double a, double b, double x, double y)
{
	if (!(a > 0) || !(b > 0) || !(x >= 0) || !(y >= 0) || !(x <= 1) || !(y <= 1))
		return NAN;
	if (x == 0)
		return 0;
	if (y == 0)
		return 1;
	if (x < (a + 1) / (a + b + 2))
		return beta_front(a, b, x, y) / beta_cf(a, b, x);
	return 1 - beta_front(b, a, y, x) / beta_cf(b, a, y);
}

/* P(|T| >= t) = I_(df/(df+t^2))(df/2, 1/2). With df huge and t moderate
 * the fraction's first factors nearly cancel (x is within t^2/df of 1):
 * the relative error can grow like 1e-16 df (measured: 1e-11 at
 * df = 1e6, 3e-5 at df = 1e12, t = 2); df = +inf gives the normal limit. */
double ap_t_sf(double t, double df)
{
	if (t != t || df != df || !(df > 0))
		return NAN;
	const double t2 = t * t;
	if (isinf(t2))
		return 0;
	if (isinf(df))
		return erfc(fabs(t) / sqrt(2.0));
	return ap_betai(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
}

int ap_welch(const double *a, size_t na, const double *b, size_t nb,
	     struct ap_welch *w)
{
	memset(w, 0, sizeof(*w));
	if (na < 2 || nb < 2)
		return -1;
	struct ap_summary sa, sb;
	ap_describe(a, na, &sa);
	ap_describe(b, nb, &sb);
	w->n_a = na;
	w->n_b = nb;
	w->mean_a = sa.mean;
	w->mean_b = sb.mean;
	w->diff = sb.mean - sa.mean;
	w->rel = sa.mean == 0 ? NAN : w->diff / fabs(sa.mean);
	const double qa = sa.var / (double)na, qb = sb.var / (double)nb;
	const double se2 = qa + qb;
	const double sd = sqrt((sa.var + sb.var) / 2);
	w->df = se2 * se2 / (qa * qa / (double)(na - 1) + qb * qb / (double)(nb - 1));
	if (se2 == 0) {
		/* Both sides constant: any difference is certain, none is none. */
		w->df = NAN;
		if (w->diff == 0) {
			w->t = w->d = 0;
			w->p = 1;
		} else {
			w->t = w->d = w->diff > 0 ? INFINITY : -INFINITY;
			w->p = 0;
		}
		return 0;
	}
	w->t = w->diff / sqrt(se2);
	w->d = w->diff / sd;
	w->p = ap_t_sf(w->t, w->df);
	return 0;
}

/* ---- hierarchical clustering ------------------------------------------ */

static int cmp_merge(const void *pa, const void *pb)
{
	const struct ap_merge *a = pa, *b = pb;
	if (a->height != b->height)
		return a->height < b->height ? -1 : 1;
	/* stable for equal heights: the order the chain found them in */
	return a->size < b->size ? -1 : a->size > b->size ? 1 : 0;
}

static size_t uf_find(size_t *parent, size_t i)
{
	while (parent[i] != i) {
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

int ap_cluster_average(const struct ap_matrix *r, struct ap_merge *out)
{
	const size_t n = r->rows;
	if (r->rows != r->cols)
		return -EINVAL;
	if (n < 2)
		return 0;
	int rc = -ENOMEM;
	struct ap_matrix d = {0};
	size_t *size = calloc(n, sizeof(*size));
	size_t *chain = calloc(n, sizeof(*chain));
	size_t *parent = calloc(n, sizeof(*parent));
	size_t *id = calloc(n, sizeof(*id));
	unsigned char *active = calloc(n, 1);
	if (!size || !chain || !parent || !id || !active || ap_matrix_init(&d, n, n) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const double *ri = ap_matrix_row(r, i);
		double *di = ap_matrix_row(&d, i);
		for (size_t j = 0; j < n; j++)
			di[j] = ri[j] == ri[j] ? 1 - fabs(ri[j]) : 1;
		size[i] = 1;
		active[i] = 1;
	}
	/* Nearest-neighbour chain (Murtagh 1983; Muellner, "Modern
	 * hierarchical, agglomerative clustering algorithms", 2011): average
	 * linkage is reducible, so reciprocal nearest neighbours may be merged
	 * in any order and the merges sorted by height afterwards. The merged
	 * cluster lives on in slot b; slot a retires. Lance-Williams update:
	 * d(k, a+b) = (|a| d(k, a) + |b| d(k, b)) / (|a| + |b|). */
	size_t len = 0, merges = 0, next = 0;
	while (merges < n - 1) {
		if (len == 0) {
			while (!active[next])
				next++;
			chain[len++] = next;
		}
		const size_t a = chain[len - 1];
		const size_t prev = len >= 2 ? chain[len - 2] : SIZE_MAX;
		const double *da = ap_matrix_row(&d, a);
		size_t best = prev;
		double bd = prev != SIZE_MAX ? da[prev] : INFINITY;
		for (size_t k = 0; k < n; k++) {
			if (k != a && active[k] && da[k] < bd) {
				bd = da[k];
				best = k;
			}
		}
		if (best != prev) {
			chain[len++] = best;
			continue;
		}
		/* a and prev are reciprocal nearest neighbours */
		len -= 2;
		const size_t lo = a < prev ? a : prev, hi = a < prev ? prev : a;
		out[merges].a = lo;
		out[merges].b = hi;
		out[merges].height = bd;
		out[merges].size = size[lo] + size[hi];
		merges++;
		double *dl = ap_matrix_row(&d, lo), *dh = ap_matrix_row(&d, hi);
		const double wl = (double)size[lo], wh = (double)size[hi];
		for (size_t k = 0; k < n; k++) {
			if (!active[k] || k == lo || k == hi)
				continue;
			const double v = (wl * dl[k] + wh * dh[k]) / (wl + wh);
			dh[k] = v;
			ap_matrix_row(&d, k)[hi] = v;
		}
		active[lo] = 0;
		size[hi] += size[lo];
	}
	/* Lowest first, then renamed as scipy does: leaves 0..n-1, merge k
	 * makes cluster n + k; a slot stands for the leaves below it. */
	qsort(out, n - 1, sizeof(*out), cmp_merge);
	for (size_t i = 0; i < n; i++) {
		parent[i] = i;
		id[i] = i;
	}
	for (size_t k = 0; k < n - 1; k++) {
		const size_t ra = uf_find(parent, out[k].a), rb = uf_find(parent, out[k].b);
		size_t ca = id[ra], cb = id[rb];
		out[k].a = ca < cb ? ca : cb;
		out[k].b = ca < cb ? cb : ca;
		parent[ra] = rb;
		id[rb] = n + k;
	}
	rc = 0;
fail:
	ap_matrix_free(&d);
	free(size);
	free(chain);
	free(parent);
	free(id);
	free(active);
	return rc;
}
