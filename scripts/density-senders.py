#!/usr/bin/env python3
"""Send one MPEG-TS file to several UDP ports in real time from one process: the cheap senders
of scripts/bench-density.sh (DENSITY_SENDERS=paced, the default).

Each video frame's TS packets (with the packets of other PIDs muxed just before them: PAT, PMT,
PCR, audio) leave at the frame's DTS, in 1316-byte datagrams (seven TS packets, the last one of a frame shorter), as
`ffmpeg -re -c copy -f mpegts udp://…?pkt_size=1316` sends them; the i-th port (from 0) starts
i × GAP seconds after the first, and each sends the file's first SECONDS. One process and one timer for every stream: N `ffmpeg -re` senders
took ~15 ms of CPU per stream-second each on the 2-core machine (a fifth of what the analyzer
spends on a 720p stream, on the same cores), and their `-re` polls every 10 ms, which put up to
10 ms of send jitter into every frame.

    density-senders.py FILE.ts HOST SECONDS GAP PORT [PORT ...]
"""

import heapq
import socket
import sys
import time

TS = 188
DATAGRAM = 7 * TS


def pes_time(payload):
    """The DTS (else the PTS) of a PES header, in 90 kHz ticks, or None."""
    if len(payload) < 14 or payload[:3] != b"\0\0\1" or not 0xE0 <= payload[3] <= 0xEF:
        return None
    flags = payload[7] >> 6
    at = 14 if flags == 3 and len(payload) >= 19 else 9 if flags >= 2 else None
    if at is None:
        return None
    b = payload[at : at + 5]
    return ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def frames(data):
    """[(seconds from the first frame, datagrams)] of the file's video frames."""
    units, prefix, current, first = [], bytearray(), None, None
    video_pid = None
    for at in range(0, len(data) - TS + 1, TS):
        p = data[at : at + TS]
        pid = (p[1] & 0x1F) << 8 | p[2]
        start = p[1] & 0x40
        afc = (p[3] >> 4) & 3
        off = 4 + (1 + p[4] if afc & 2 else 0)
        t = pes_time(p[off:]) if start and afc & 1 else None
        if t is not None and video_pid in (None, pid):
            video_pid = pid
            first = t if first is None else first
            current = [(t - first) / 90_000, bytearray(prefix) + p]
            units.append(current)
            prefix.clear()
        elif pid == video_pid and current is not None:
            current[1] += p
        else:
            prefix += p
    if current is not None:
        current[1] += prefix
    return [(t, [bytes(b[i : i + DATAGRAM]) for i in range(0, len(b), DATAGRAM)]) for t, b in units]


def main():
    path, host, seconds, gap = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    targets = [(int(port), k * gap) for k, port in enumerate(sys.argv[5:])]
    units = [u for u in frames(open(path, "rb").read()) if u[0] <= seconds]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic() + 0.05
    # (when, stream, frame index): one timer for every stream.
    due = [(start + offset + units[0][0], i, 0) for i, (_, offset) in enumerate(targets)]
    heapq.heapify(due)
    while due:
        when, i, k = heapq.heappop(due)
        wait = when - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        addr = (host, targets[i][0])
        for d in units[k][1]:
            sock.sendto(d, addr)
        if k + 1 < len(units):
            heapq.heappush(due, (start + targets[i][1] + units[k + 1][0], i, k + 1))


if __name__ == "__main__":
    main()
