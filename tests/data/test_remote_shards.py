"""wds: shards read over HTTP from a server on 127.0.0.1, from pipe: commands and fsspec URLs, with
sample counts from sizes.json / _info.json, and one clear error line for every failure."""
import json
import shutil
import socket
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

import simclip.data.shards.index as index_module
import simclip.data.shards.location as location
from simclip.cli import main
from simclip.data import batches, load_dataset, write_shards
from simclip.data.shards.errors import ShardSourceError

N_DIGITS, SHARDS = 1437, 10  # 150 samples per shard: 9 x 150 + 87
PATTERN = "{000000..000009}.tar"


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves a folder; honours ``Range: bytes=N-``; with ``cut`` set, breaks off the first answer
    for each file after ``cut`` bytes (a dropped connection mid-download)."""

    cut: int | None = None
    served: set = set()
    requests: list = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        path = self.translate_path(self.path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.send_error(404, "Not Found")
            return
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if "Range" in self.headers else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.cut is not None and path not in self.served and len(body) > self.cut:
            type(self).served.add(path)
            self.wfile.write(body[:self.cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # the client sees a short read
            return
        self.wfile.write(body)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(location, "RETRY_PAUSE_S", 0.0)
    monkeypatch.setattr(location, "HTTP_TIMEOUT_S", 5.0)


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("remote") / "digits"
    write_shards("digits", out, shard_size=150)
    return out


@pytest.fixture
def server(shard_dir):
    """``(base URL, handler class)`` of an HTTP server on 127.0.0.1 serving ``shard_dir``'s parent."""
    handler = type("Handler", (RangeHandler,), {"cut": None, "served": set(), "requests": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(shard_dir.parent)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def epoch(spec, seed=5, epoch_=1):
    data = load_dataset(spec)
    out = list(batches(data, 64, seed=seed, epoch=epoch_))
    return len(data), torch.cat([x for x, _ in out]), torch.cat([y for _, y in out])


def same_batches(a, b):
    return a[0] == b[0] and torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])


def test_http_batches_equal_the_local_folder(server, shard_dir):
    base, handler = server
    local = epoch(f"wds:{shard_dir}")
    assert local[0] == N_DIGITS and local[1].shape == (22 * 64, 1, 28, 28)
    assert same_batches(epoch(f"wds:{base}/digits/{PATTERN}"), local)
    assert same_batches(epoch(f"wds:{base}/digits/"), local)  # the folder URL: its shards.json
    assert "/digits/shards.json" in handler.requests
    assert not same_batches(epoch(f"wds:{base}/digits/{PATTERN}", seed=6), local)


def test_pipe_and_fsspec_file_urls_equal_the_local_folder(shard_dir):
    local = epoch(f"wds:{shard_dir}")
    assert same_batches(epoch(f"wds:pipe:cat {shard_dir}/{PATTERN}"), local)
    assert same_batches(epoch(f"wds:file://{shard_dir}/{PATTERN}"), local)


def test_a_download_that_breaks_off_resumes_where_it_stopped(server, shard_dir):
    base, handler = server
    handler.cut = 5000  # each shard's first answer stops after 5000 bytes
    assert same_batches(epoch(f"wds:{base}/digits/{PATTERN}"), epoch(f"wds:{shard_dir}"))
    assert len(handler.served) == SHARDS


def test_sizes_json_counts_without_reading_every_shard(server, shard_dir, tmp_path, monkeypatch):
    folder = tmp_path / "counted"
    shutil.copytree(shard_dir, folder)
    sizes = json.loads((folder / "sizes.json").read_text())
    assert sizes == {f"{i:06d}.tar": 150 if i < 9 else 87 for i in range(SHARDS)}
    (folder / "shards.json").unlink()
    opened = []
    real = index_module.read_samples
    monkeypatch.setattr(index_module, "read_samples", lambda p: opened.append(str(p)) or real(p))
    data = load_dataset(f"wds:{folder}")
    assert len(data) == N_DIGITS and data.counts == [150] * 9 + [87]
    assert opened == [str(folder / "000000.tar")] and data.classes == [str(i) for i in range(10)]
    (folder / "sizes.json").unlink()  # the wids index instead
    shardlist = [{"url": f"{i:06d}.tar", "nsamples": n} for i, n in enumerate(data.counts)]
    (folder / "_info.json").write_text(json.dumps({"wids_version": 1, "shardlist": shardlist}))
    opened.clear()
    assert len(load_dataset(f"wds:{folder}/{PATTERN}")) == N_DIGITS and len(opened) == 1
    (folder / "_info.json").unlink()
    opened.clear()
    assert len(load_dataset(f"wds:{folder}")) == N_DIGITS and len(opened) == SHARDS


def test_remote_sizes_json_is_read_beside_the_shards(server, shard_dir, tmp_path, monkeypatch):
    base, handler = server
    folder = shard_dir.parent / "sized"
    shutil.copytree(shard_dir, folder, dirs_exist_ok=True)
    (folder / "shards.json").unlink()
    data = load_dataset(f"wds:{base}/sized/")
    assert len(data) == N_DIGITS and data.shards[0] == f"{base}/sized/000000.tar"
    shard_requests = [r for r in handler.requests if r.endswith(".tar")]
    assert shard_requests == ["/sized/000000.tar"]


def fails_with(spec, *needles):
    with pytest.raises(ShardSourceError) as info:
        load_dataset(spec)
    message = str(info.value)
    assert "\n" not in message and all(n in message for n in needles), message
    return message


def test_unreachable_missing_and_unknown_locations_fail_with_one_line(server, monkeypatch):
    base, _ = server
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound but not listening: refused
    fails_with(f"wds:{dead}/{PATTERN}", dead, "cannot connect after 4 tries")
    fails_with(f"wds:{base}/nothing/{PATTERN}", f"{base}/nothing/000000.tar", "HTTP 404")
    fails_with(f"wds:{base}/nothing/", f"{base}/nothing/", "holds no shards.json, sizes.json")
    fails_with("wds:nosuch://bucket/{0..1}.tar", "nosuch://bucket/", "unknown URL scheme")
    fails_with("wds:pipe:exit 3", "pipe:exit 3", "exited with status 3")
    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if not installed
    fails_with("wds:s3://bucket/{0..1}.tar", "s3://bucket/", "needs fsspec",
               "simclip[remote]")


def test_the_command_line_prints_one_line_for_an_unreachable_server(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/{PATTERN}"
    code = main(["data", "shard", "--data", f"wds:{url}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "127.0.0.1" in err and "Traceback" not in err
