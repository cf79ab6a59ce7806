/* lrunfile: the run-file format for Lua (core.read_run, run_start,
 * run_end, RUN_COLUMNS) and the rows the counting bindings write. */
#ifndef AP_LRUNFILE_H
#define AP_LRUNFILE_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>


/* One sample of a group as rows of a run file:
 * index,time_ns,cpu,tag,value,enabled,running. */
struct ap_writer;
struct ap_rows {
	long long index, t, cpu;
	const int *tags;
	const uint64_t *values;
	size_t n;
	uint64_t enabled, running;
};
/* Writes them; pushes enabled, running and returns 2 (or fails). */
int ap_lua_write_rows(lua_State *L, struct ap_writer *w, const struct ap_rows *rows);

#endif
