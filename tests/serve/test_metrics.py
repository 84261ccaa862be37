"""/metrics: Prometheus text format, requests counted by route template and status, latency and
batch-size histograms, the index size; workers' snapshots add up."""

import json
import re

import pytest
from fastapi.testclient import TestClient

from simclip.serve.app import create_app
from simclip.serve.batcher import BatchingEmbedder
from simclip.serve.metrics import Metrics

SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? -?[0-9.e+]+$|^# (HELP|TYPE) ')


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the series ``name{labels}`` in an exposition ``text`` (labels in any order)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            series, value = line.rsplit(" ", 1)
            found = dict(re.findall(r'([a-z_]+)="([^"]*)"', series))
            if series.split("{")[0] == name and found == labels:
                return float(value)
    raise AssertionError(f"no series {name}{labels} in:\n{text}")


@pytest.fixture()
def batching(clip_embedder):
    batcher = BatchingEmbedder(clip_embedder, max_batch=16)
    yield batcher
    batcher.close()


def test_metrics_count_requests_by_route_and_status(built_index, batching):
    with TestClient(create_app(built_index, batching, max_concurrency=16)) as client:
        for q in ("red", "blue"):
            assert client.get("/api/search", params={"q": q}).status_code == 200
        assert client.get("/api/search", params={"q": ""}).status_code == 422
        assert client.get("/images/no/such.png").status_code == 404
        assert client.get("/nothing-here").status_code == 404
        response = client.get("/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert all(SAMPLE.match(line) for line in text.splitlines()), text
        assert sample(text, "simclip_requests_total", route="/api/search", method="GET", status="200") == 2
        assert sample(text, "simclip_requests_total", route="/api/search", method="GET", status="422") == 1
        assert sample(text, "simclip_requests_total", route="/images/{image_id:path}", method="GET",
                      status="404") == 1
        assert sample(text, "simclip_requests_total", route="other", method="GET", status="404") == 1
        assert sample(text, "simclip_request_duration_seconds_count", route="/api/search") == 3
        assert sample(text, "simclip_request_duration_seconds_bucket", route="/api/search", le="+Inf") == 3
        assert sample(text, "simclip_batch_size_count", tower="text") == 2  # two queries embedded
        assert sample(text, "simclip_batch_size_sum", tower="text") == 2
        assert sample(text, "simclip_index_vectors") == 36
        # the scrape itself is counted by the next one
        again = client.get("/metrics").text
        assert sample(again, "simclip_requests_total", route="/metrics", method="GET", status="200") == 1


def test_histogram_buckets_are_cumulative():
    metrics = Metrics(lambda: 0, lambda: {"text": {1: 3, 5: 2, 300: 1}})
    for seconds in (0.001, 0.02, 0.02, 3.0):
        metrics.observe("/r", "GET", 200, seconds)
    text = metrics.render()
    assert sample(text, "simclip_request_duration_seconds_bucket", route="/r", le="0.005") == 1
    assert sample(text, "simclip_request_duration_seconds_bucket", route="/r", le="0.025") == 3
    assert sample(text, "simclip_request_duration_seconds_bucket", route="/r", le="2.5") == 3
    assert sample(text, "simclip_request_duration_seconds_bucket", route="/r", le="+Inf") == 4
    assert sample(text, "simclip_request_duration_seconds_sum", route="/r") == pytest.approx(3.041)
    assert sample(text, "simclip_batch_size_bucket", tower="text", le="1") == 3
    assert sample(text, "simclip_batch_size_bucket", tower="text", le="4") == 3
    assert sample(text, "simclip_batch_size_bucket", tower="text", le="8") == 5
    assert sample(text, "simclip_batch_size_bucket", tower="text", le="256") == 5
    assert sample(text, "simclip_batch_size_bucket", tower="text", le="+Inf") == 6
    assert sample(text, "simclip_batch_size_sum", tower="text") == 313


def test_workers_snapshots_add_up(tmp_path):
    first, second = Metrics(lambda: 9, share_dir=tmp_path), Metrics(lambda: 9, share_dir=tmp_path)
    first.observe("/api/search", "GET", 200, 0.01)
    second.observe("/api/search", "GET", 200, 0.01)
    second.observe("/api/search", "GET", 503, 0.01)
    # both live in this process, so each snapshot file is named by the pid: write the second's under
    # another name, as a second worker process would
    (tmp_path / "other.json").write_text(json.dumps(second.snapshot()))
    text = first.render()
    assert sample(text, "simclip_requests_total", route="/api/search", method="GET", status="200") == 2
    assert sample(text, "simclip_requests_total", route="/api/search", method="GET", status="503") == 1
    assert sample(text, "simclip_request_duration_seconds_count", route="/api/search") == 3
    assert sample(text, "simclip_index_vectors") == 9
