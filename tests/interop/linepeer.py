"""A stdin-driven reference peer process for the self-test scripts (`kubo.py peer`,
`helia-ipns.mjs peer`): it prints one JSON line when it is up and answers each command
with exactly one JSON line. The peer's own --seconds watchdog bounds every read (EOF when
it is gone). Used by kubo_bitswap_selftest.sh and helia_ipns_selftest.sh."""
import json
import os
import subprocess
import sys


class LinePeer:
    def __init__(self, name, argv, out, trace=False):
        """Starts `argv` with its stderr in `out/<name>.log`; exits the script if the peer's
        first line is not ok. With `trace`, every command and its outcome go to stderr."""
        self.name = name
        self.trace = trace
        self.log = open(os.path.join(out, f"{name}.log"), "w")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.log, text=True, bufsize=1)
        self.info = self._read()
        if not self.info.get("ok"):
            raise SystemExit(f"{name} did not start: {self.info} (see {self.log.name})")

    def _read(self):
        line = self.p.stdout.readline()
        if not line:
            return {"ok": False, "error": f"{self.name}: no answer (process gone, rc={self.p.poll()})"}
        return json.loads(line)

    def __call__(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        a = self._read()
        if self.trace:
            print(f"  {self.name} {line[:60]!r} -> ok={a.get('ok')} {a.get('error') or ''}", file=sys.stderr)
        return a

    def quit(self, grace=15):
        """Sends `quit`; answers (its reply, the exit code, or None when it had to be killed)."""
        a = self("quit")
        try:
            rc = self.p.wait(grace)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = None
        return a, rc
