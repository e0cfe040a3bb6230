#!/usr/bin/env python3
"""CPU seconds a process tree spent between two moments: the steady-state CPU of
scripts/bench-density.sh (analyze and its ffmpeg children, or the bare decoders), without the
start-up every run pays once (probing, decoder start, the first QR searches).

Samples /proc every 0.25 s: every thread of PID and of its descendants (user + system ticks).
The window runs from the last sample before FROM to the last one before TO; a thread's CPU in it
is its last sample in it minus its sample at the window's start (zero if it was not there
yet), so threads and processes that start or end inside the window count for what they spent
there (to within one sample).

    density-cpu.py PID FROM TO   (seconds after this script started) -> prints "CPU_S WINDOW_S"
"""

import os
import sys
import time

TCK = os.sysconf("SC_CLK_TCK")


def tree(root):
    """PID and its descendants, as far as /proc shows them now."""
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        try:
            for t in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{t}/children") as f:
                        stack += [int(c) for c in f.read().split()]
                except OSError:
                    pass
        except OSError:
            pass
    return out


def ticks(pids):
    """(pid, tid) -> user + system ticks of every thread of `pids`."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            out[(pid, tid)] = int(fields[11]) + int(fields[12])
    return out


def main():
    root, start, end = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    t0 = time.monotonic()
    before, inside = {}, {}
    opened = last = None
    while os.path.exists(f"/proc/{root}"):
        now = time.monotonic() - t0
        if now > end:
            break
        sample = ticks(tree(root))
        if now < start:
            before.update(sample)
            opened = now
        else:
            last = now
            inside.update(sample)
        time.sleep(0.25)
    if opened is None or last is None:
        print("nan nan")
        return
    cpu = sum(v - before.get(k, 0) for k, v in inside.items()) / TCK
    print(f"{cpu:.3f} {last - opened:.3f}")


main()
