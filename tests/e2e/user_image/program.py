"""A tiny "bring your own container" program: ``train`` fits a mean and a scale, ``serve`` predicts.

train: reads hyperparameters (epochs, scale, fail, sleep_seconds) and the numbers in the ``train``
channel, prints what the test checks (host name, network interfaces, CPU and memory limits, the
GREETING environment variable), prints one metric line per epoch, writes model/model.json.
serve: answers GET /ping and POST /invocations (CSV numbers -> JSON predictions) on port 8080.
"""

import json
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE = Path("/opt/ml")


def read_json(path):
    return json.loads(Path(path).read_text())


def limits():
    cpus = memory = None
    if Path("/sys/fs/cgroup/cpu.max").exists():  # cgroup v2
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        cpus = None if quota == "max" else int(quota) / int(period)
        raw = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        memory = None if raw == "max" else int(raw)
    else:  # cgroup v1
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        cpus = None if quota < 0 else quota / period
        memory = int(Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").read_text())
    return cpus, memory


def train():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    hyperparameters = read_json(BASE / "input/config/hyperparameters.json")
    resources = read_json(BASE / "input/config/resourceconfig.json")
    channels = read_json(BASE / "input/config/inputdataconfig.json")
    cpus, memory = limits()
    print(f"host={socket.gethostname()} current_host={resources['current_host']} channels={sorted(channels)}")
    print(f"interfaces={','.join(sorted(os.listdir('/sys/class/net')))}")
    for host in resources["hosts"]:  # peers start moments apart: wait for them, as SageMaker's toolkit does
        resolved, deadline = "unresolved", time.monotonic() + (30 if host != resources["current_host"] else 0)
        while True:
            try:
                resolved = socket.gethostbyname(host)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.2)
        print(f"resolves {host} -> {resolved}")
    print(f"limits cpus={cpus} memory_bytes={memory}")
    print(f"greeting={os.environ.get('GREETING', '')}")
    if hyperparameters.get("fail") == "true":
        (BASE / "output").mkdir(parents=True, exist_ok=True)
        (BASE / "output/failure").write_text("ClientError: the user's image failed on purpose")
        sys.exit(1)
    numbers = []
    for path in sorted((BASE / "input/data/train").rglob("*")):
        if path.is_file():
            numbers += [float(line) for line in path.read_text().split() if line]
    mean = sum(numbers) / len(numbers)
    epochs = int(hyperparameters.get("epochs", "3"))
    for epoch in range(1, epochs + 1):
        print(f"epoch={epoch} train_loss={1.0 / epoch:.4f}")
    print(f"validation accuracy: {0.5 + epochs / 100:.3f}")
    deadline = time.monotonic() + float(hyperparameters.get("sleep_seconds", "0"))
    while time.monotonic() < deadline:
        time.sleep(0.1)
    model = {"mean": mean, "scale": float(hyperparameters.get("scale", "1"))}
    (BASE / "model/model.json").write_text(json.dumps(model))
    print("training done")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.reply(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.path != "/invocations":
            return self.reply(404, b"")
        try:
            values = [float(v) for v in body.replace("\n", ",").split(",") if v.strip()]
        except ValueError:
            return self.reply(400, b"expected CSV numbers")
        delay = float(os.environ.get("DELAY_SECONDS", "0"))
        if delay:
            time.sleep(delay)
        model = self.server.model
        answer = {"predictions": [model["mean"] + model["scale"] * v for v in values],
                  "greeting": os.environ.get("GREETING", ""), "host": socket.gethostname()}
        self.reply(200, json.dumps(answer).encode(), "application/json")

    def reply(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
    server.model = read_json(BASE / "model/model.json")
    print("serving on 8080", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    {"train": train, "serve": serve}[sys.argv[1]]()
