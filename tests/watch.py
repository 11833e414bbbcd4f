"""What the attack suites watch: the loopback port network attacks aim at, the canary folder, raw control text.

Shared by tests/test_attacks.py and tests/test_hostile.py.
"""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

from grader.assignment import Assignment
from grader.batch import grade_class
from grader.models import ClassReport
from grader.output import write_class_outputs, write_student_outputs
from grader.sandbox.limits import Limits

CANARY = Path("/tmp/grader-attack-canary")
LISTEN_PORT = 47999
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class Listener:
    """Counts TCP connections and UDP datagrams on the port the network attacks aim at."""

    def __init__(self) -> None:
        self.hits = 0
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind(("127.0.0.1", LISTEN_PORT))
            self.tcp.listen()
            self.udp.bind(("127.0.0.1", LISTEN_PORT))
        except OSError:  # the port is taken (another run): no listener, but no leaked sockets
            self.tcp.close()
            self.udp.close()
            raise
        self.tcp.settimeout(0.2)
        self.udp.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            for sock in (self.tcp, self.udp):
                try:
                    if sock is self.tcp:
                        conn, _ = sock.accept()
                        conn.close()
                    else:
                        sock.recvfrom(4096)
                    self.hits += 1
                except (TimeoutError, OSError):
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.tcp.close()
        self.udp.close()


def grade_watched(class_dir: Path, out: Path, assignment: Assignment) -> tuple[ClassReport, int | None]:
    """Grade ``class_dir`` into ``out`` (2 s per call) while a listener counts network attempts.

    Returns the class report and the hits, or None for the hits when the port
    was taken and nothing listened.
    """
    try:
        listener: Listener | None = Listener()
    except OSError:
        listener = None
    limits = Limits.from_dict({**assignment.limits.to_dict(), "timeout_s": 2.0})
    try:
        result = grade_class(class_dir, out, assignment, jobs=2, limits=limits, write_student=write_student_outputs)
        write_class_outputs(out, result)
    finally:
        hits = listener.hits if listener else None
        if listener:
            listener.close()
    return result, hits
