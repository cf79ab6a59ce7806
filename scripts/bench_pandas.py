#!/usr/bin/python3
"""The pandas side of make bench-analysis: the same computations as
`autoperf aggregate` and `autoperf analyze correlation`, written the way a
pandas user would, on the same profile directory.

  bench_pandas.py aggregate DIR OUT.csv   results.csv (the original's columns)
  bench_pandas.py correlation DIR         Pearson matrix of per-interval series

Prints one line of JSON: rows, seconds (end to end), and for correlation
the seconds of DataFrame.corr() alone. Peak RSS is measured by the caller.
"""
import json
import sys
import time

import pandas as pd

COLS = ["index", "time_ns", "cpu", "tag", "value", "enabled", "running"]


def load(d):
    with open(f"{d}/manifest.json") as f:
        manifest = json.load(f)
    with open(f"{d}/journal.jsonl") as f:
        journal = [json.loads(line) for line in f if line.strip()]
    journal.sort(key=lambda e: (e["run"], e["rep"]))
    return manifest, journal


def events_of(path):
    """tag -> (unit, name) from the #event lines."""
    import gzip
    out = {}
    with gzip.open(path, "rt") as f:
        for line in f:
            if not line.startswith("#"):
                if not line.startswith("index,"):
                    break
                continue
            if line.startswith("#event "):
                _, tag, unit, name = line.rstrip("\n").split(" ", 3)
                out[int(tag)] = (unit, name)
    return out


def read_run(path):
    return pd.read_csv(path, comment="#", header=0, names=COLS, dtype="int64")


def aggregate(d, out):
    manifest, journal = load(d)
    topo = pd.DataFrame(manifest["machine"]["cpus"]).set_index("cpu")
    offsets = {}
    rows = 0
    first = True
    for e in journal:
        path = f"{d}/{e['file']}"
        ev = events_of(path)
        df = read_run(path)
        df = df.sort_values(["tag", "cpu", "index"], kind="stable")
        df["delta"] = df.groupby(["tag", "cpu"])["value"].diff().fillna(df["value"]).astype("int64")
        idx0, t0 = offsets.get(e["run"], (0, 0))
        res = pd.DataFrame({
            "EVENT_NAME": df["tag"].map({t: n for t, (u, n) in ev.items()}),
            "INDEX": df["index"] + idx0,
            "TIME": ((df["time_ns"] + t0) / 1e9).round(6),
            "SOCKET": df["cpu"].map(topo["socket"]).fillna(-1).astype("int64"),
            "CORE": df["cpu"].map(topo["core"]).fillna(-1).astype("int64"),
            "CPU": df["cpu"],
            "NODE": df["cpu"].map(topo["node"]).fillna(-1).astype("int64"),
            "UNIT": df["tag"].map({t: u for t, (u, n) in ev.items()}),
            "SAMPLE_VALUE": df["delta"],
        })
        res.to_csv(out, mode="w" if first else "a", header=first, index=False, float_format="%.6f")
        first = False
        rows += len(res)
        offsets[e["run"]] = (idx0 + int(df["index"].max()) + 1, t0 + int(df["time_ns"].max()))
    return {"rows": rows}


def correlation(d):
    manifest, journal = load(d)
    series = []
    for e in journal:
        path = f"{d}/{e['file']}"
        ev = events_of(path)
        df = read_run(path).sort_values(["tag", "cpu", "index"], kind="stable")
        df["delta"] = df.groupby(["tag", "cpu"])["value"].diff().fillna(df["value"])
        wide = df.groupby(["index", "tag"])["delta"].sum().unstack("tag")
        wide.columns = [ev[t][1] for t in wide.columns]
        series.append(wide)
    data = pd.concat(series, ignore_index=True)
    data = data.loc[:, data.std() > 0]
    t0 = time.perf_counter()
    r = data.corr()
    return {"events": r.shape[0], "samples": len(data), "corr_seconds": time.perf_counter() - t0}


def main():
    what, d = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    out = aggregate(d, sys.argv[3]) if what == "aggregate" else correlation(d)
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
