#!/usr/bin/env python3
"""Checks a timeline.json written by `flowkv simulate --timeline` the way the viewers read it.

Usage: tools/timeline_check.py results/NAME/timeline.json

Checks what makes Perfetto or chrome://tracing drop or misdraw events: the file is one JSON
object with a traceEvents array; every event has a phase, pid and (except metadata) a numeric
ts; slices on one thread nest; B/E balance; every flow start has one finish with the same
(cat, name, id), and both sit inside a slice of their thread; counters carry numbers; every
pid has a process_name. Prints what the file holds (events per phase, slices per name, tracks)
and exits 1 with the problems found, 0 when there are none. Standard library only.
"""
import bisect
import collections
import json
import sys


def ns(v):
    return round(v * 1000)  # what the viewers do: microseconds back to integer nanoseconds


def main(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    problems = []
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        print(f"{path}: not a JSON object with a traceEvents array")
        return 1
    events = doc["traceEvents"]
    phases = collections.Counter()
    names = collections.Counter()
    slices = collections.defaultdict(list)  # (pid, tid) -> [(start, end, name)]
    flows = {"s": {}, "f": {}}
    process_names = {}
    pids = set()
    counters = set()
    depth = collections.Counter()
    for i, e in enumerate(events):
        ph = e.get("ph")
        phases[ph] += 1
        if ph is None or "pid" not in e:
            problems.append(f"event {i}: no ph or pid: {e}")
            continue
        pids.add(e["pid"])
        if ph == "M":
            if e.get("name") == "process_name":
                process_names[e["pid"]] = e["args"]["name"]
            continue
        if not isinstance(e.get("ts"), (int, float)):
            problems.append(f"event {i}: ts is not a number: {e}")
            continue
        if ph == "X":
            if not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0:
                problems.append(f"event {i}: bad dur: {e}")
                continue
            start = ns(e["ts"])
            slices[(e["pid"], e["tid"])].append((start, start + ns(e["dur"]), e["name"]))
            names[e["name"].split(" ")[0]] += 1
        elif ph in "BE":
            depth[(e["pid"], e.get("tid"))] += 1 if ph == "B" else -1
        elif ph in "sf":
            key = (e.get("cat"), e.get("name"), e.get("id"))
            if key in flows[ph]:
                problems.append(f"event {i}: flow {ph} {key} appears twice")
            flows[ph][key] = e
            if ph == "f" and e.get("bp") != "e":
                problems.append(f"event {i}: flow finish without \"bp\":\"e\" binds to the next slice")
        elif ph == "C":
            args = e.get("args", {})
            if not args or not all(isinstance(v, (int, float)) for v in args.values()):
                problems.append(f"event {i}: counter without numeric args: {e}")
            for k in args:
                counters.add((e["pid"], f"{e['name']} {k}"))
        elif ph == "i":
            names[e["name"]] += 1
    for thread, d in depth.items():
        if d != 0:
            problems.append(f"pid/tid {thread}: {d} B without E")
    for thread, lst in slices.items():
        lst.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for start, end, name in lst:
            while stack and stack[-1] <= start:
                stack.pop()
            if stack and end > stack[-1]:
                problems.append(f"pid/tid {thread}: slice '{name}' at {start} ns overlaps its neighbour partly")
            stack.append(end)

    starts = {thread: [s for s, _, _ in lst] for thread, lst in slices.items()}

    def enclosed(e):
        thread = (e["pid"], e.get("tid"))
        lst = slices.get(thread, [])
        t = ns(e["ts"])
        # Slices sorted by start: walk back from the last one starting at or before t.
        i = bisect.bisect_right(starts.get(thread, []), t) - 1
        while i >= 0:
            if lst[i][1] >= t:
                return True
            i -= 1
            if i >= 0 and lst[i][0] < t - 10**12:  # nothing lasts 1000 s: stop looking
                break
        return False

    for key, e in flows["s"].items():
        f = flows["f"].get(key)
        if f is None:
            problems.append(f"flow {key}: start without finish")
            continue
        if not enclosed(e) or not enclosed(f):
            problems.append(f"flow {key}: start or finish not inside a slice of its thread")
    for key in flows["f"].keys() - flows["s"].keys():
        problems.append(f"flow {key}: finish without start")
    for pid in sorted(pids - process_names.keys()):
        problems.append(f"pid {pid}: no process_name")

    print(f"{path}: {len(events)} events " + ", ".join(f"{p}={n}" for p, n in sorted(phases.items())))
    print("processes: " + "; ".join(f"{p}={process_names[p]}" for p in sorted(process_names)))
    print("slices and instants: " + ", ".join(f"{n}={c}" for n, c in sorted(names.items())))
    print(f"threads with slices: {len(slices)}, flows: {len(flows['s'])}, counter tracks: {len(counters)}")
    if problems:
        for p in problems[:50]:
            print("PROBLEM: " + p)
        print(f"{len(problems)} problems")
        return 1
    print("ok: no problems")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
