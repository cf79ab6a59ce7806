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
	struct ap_writer *w;
	long long index, t, cpu;
	const int *tags;
	const uint64_t *values;
	size_t n;
	uint64_t enabled, running;
};
/* The rows a group:put(writer, index, time_ns, cpu) or :sample(...) call
 * asks for (its arguments 2-5, checked); the caller adds the reading. */
struct ap_rows ap_lua_rows_args(lua_State *L);
/* Writes them; pushes enabled, running and returns 2 (or fails). */
int ap_lua_write_rows(lua_State *L, const struct ap_rows *rows);

#endif
