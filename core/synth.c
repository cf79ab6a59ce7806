#include "synth.h"

#include "io.h"
#include "runfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INTERVAL_NS 10000000LL

static uint64_t next(uint64_t *x)
{
	/* xorshift64*: enough for counts that look random. */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1DULL;
}

void ap_synth_event_name(char *buf, size_t len, int tag)
{
	if (tag % 10 == 0)
		snprintf(buf, len, "cpu/event=0x%x,umask=0x%x/", tag >> 8, tag & 0xff);
	else
		snprintf(buf, len, "synth_event_%04d", tag);
}

int ap_synth_run(const char *path, const struct ap_synth *s, long *rows)
{
	struct ap_writer w;
	uint64_t *values = NULL;
	char *buf = NULL;
	const size_t cap = 1 << 20;
	long n = 0;
	int err = ap_writer_open(&w, path, 1);
	if (err)
		return err;
	err = -ENOMEM;
	values = calloc((size_t)s->events * (size_t)s->cpus + 1, sizeof(*values));
	buf = malloc(cap);
	if (!values || !buf)
		goto fail;
	size_t used = ap_run_format_start(buf, cap, s->run, s->rep);
	for (int tag = 1; tag <= s->events; tag++) {
		char name[64];
		ap_synth_event_name(name, sizeof(name), tag);
		if (cap - used < 128) {
			if ((err = ap_writer_write(&w, buf, used)))
				goto fail;
			used = 0;
		}
		used += ap_run_format_event(buf + used, cap - used, tag, "cpu", name);
	}
	used += ap_run_format_columns(buf + used, cap - used);
	uint64_t x = s->seed * 0x9E3779B97F4A7C15ULL + 1;
	for (int i = 0; i < s->intervals; i++) {
		for (int cpu = 0; cpu < s->cpus; cpu++) {
			int64_t t = (i + 1) * INTERVAL_NS + (int64_t)(next(&x) % 100000);
			for (int tag = 1; tag <= s->events; tag++) {
				uint64_t *v = &values[(size_t)cpu * (size_t)s->events + (size_t)tag - 1];
				*v += next(&x) % ((uint64_t)1 << (8 + tag % 24));
				int64_t running = tag % 50 == 0 ? t / 4 * 3 : t;
				if (cap - used < AP_RUN_LINE_MAX) {
					if ((err = ap_writer_write(&w, buf, used)))
						goto fail;
					used = 0;
				}
				const struct ap_run_row row = {
					.index = i, .time_ns = t, .cpu = cpu, .tag = tag,
					.value = *v, .enabled = (uint64_t)t, .running = (uint64_t)running,
				};
				used += ap_run_format_row(buf + used, &row);
				n++;
			}
		}
	}
	if (cap - used < 64) {
		if ((err = ap_writer_write(&w, buf, used)))
			goto fail;
		used = 0;
	}
	used += ap_run_format_end(buf + used, cap - used, n);
	if ((err = ap_writer_write(&w, buf, used)))
		goto fail;
	free(values);
	free(buf);
	if ((err = ap_writer_commit(&w)))
		return err;
	if (rows)
		*rows = n;
	return 0;
fail:
	free(values);
	free(buf);
	ap_writer_abort(&w);
	return err;
}
