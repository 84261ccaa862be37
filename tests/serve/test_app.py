import asyncio
import io
import json
import os

import httpx
import numpy as np
import pytest
from PIL import Image
from fastapi.testclient import TestClient

from simclip.serve.app import create_app
from simclip.serve.index import IndexMismatchError, build_index
from tests.serve.conftest import FakeEmbedder, draw_shape, png_bytes, write_shapes

TRACE_MARKERS = ("Traceback", 'File "', "line ", ".py")


@pytest.fixture(scope="module")
def client(built_index, clip_embedder):
    app = create_app(built_index, clip_embedder, max_upload_bytes=64 * 1024)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def assert_clean_error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert not any(marker in response.text for marker in TRACE_MARKERS), response.text


def test_text_search_returns_k_sorted_results(client):
    r = client.get("/api/search", params={"q": "a red circle", "k": 7})
    assert r.status_code == 200
    body = r.json()
    assert body["k"] == 7 and len(body["results"]) == 7
    scores = [hit["score"] for hit in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert all(hit["url"] == f"/images/{hit['id']}" for hit in body["results"])
    image = client.get(body["results"][0]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"


def test_image_search_finds_the_uploaded_file_first(client, shapes_dir):
    data = (shapes_dir / "square/green_18.png").read_bytes()
    r = client.post("/api/search/image", params={"k": 3}, files={"file": ("q.png", data, "image/png")})
    assert r.status_code == 200, r.text
    hits = r.json()["results"]
    assert hits[0]["id"] == "square/green_18.png" and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert len(hits) == 3


def test_classify_gives_a_distribution_over_labels(client, clip_embedder):
    data = png_bytes(draw_shape("circle", (220, 40, 40), 12))
    r = client.post("/api/classify", files={"file": ("c.png", data, "image/png")},
                    data={"labels": "circle, square ,triangle,"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["label"] for x in body["results"]] == ["circle", "square", "triangle"]
    assert body["results"][0]["prompt"] == "a photo of a circle."
    assert sum(x["probability"] for x in body["results"]) == pytest.approx(1.0, abs=1e-9)
    assert body["logit_scale"] == pytest.approx(1 / 0.07, rel=1e-4)
    # reference: softmax of scaled cosines, in float64, from the embedder directly
    image = clip_embedder.embed_images([Image.open(io.BytesIO(data)).convert("RGB")])[0].astype(np.float64)
    texts = clip_embedder.embed_texts([f"a photo of a {x}." for x in ("circle", "square", "triangle")])
    logits = (1 / 0.07) * texts.astype(np.float64) @ image
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose([x["probability"] for x in body["results"]], expected, atol=1e-5)


@pytest.mark.parametrize("labels", ["circle", "a,a", ",,", "x," + "y" * 101])
def test_classify_rejects_bad_labels(client, labels):
    data = png_bytes(draw_shape("circle", (220, 40, 40), 12))
    r = client.post("/api/classify", files={"file": ("c.png", data, "image/png")}, data={"labels": labels})
    assert_clean_error(r, 422)


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "   "}, {"q": "x" * 301}, {"q": "cat", "k": 0},
                                    {"q": "cat", "k": 101}, {"q": "cat", "k": "many"}, {}])
def test_invalid_search_parameters_are_422(client, params):
    assert_clean_error(client.get("/api/search", params=params), 422)


@pytest.mark.parametrize("path", [
    "/images/..%2F..%2Fetc%2Fpasswd", "/images/%2Fetc%2Fpasswd", "/images/circle/..%2F..%2Findex%2Fmeta.json",
    "/images/broken.png", "/images/notes.txt", "/images/circle%2Fred_10.png%00.txt", "/images/",
    "/images/circle/%2E%2E/circle/red_10.png", "/images/circle/..%2Fcircle/red_10.png",
])
def test_image_route_serves_only_indexed_ids(client, path):
    r = client.get(path)
    assert r.status_code == 404, path
    assert r.json()["detail"] == "no such image in the index"  # reached the route, refused by lookup


def test_image_route_refuses_a_symlink_swapped_in_after_indexing(tmp_path):
    root = tmp_path / "imgs"
    write_shapes(root, shapes=("circle",), colours=("red", "blue"), sizes=(8,))
    embedder = FakeEmbedder()
    build_index(embedder, root, tmp_path / "idx", progress=False)
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes(draw_shape("square", (0, 0, 0), 4)))
    (root / "circle/red_8.png").unlink()
    os.symlink(secret, root / "circle/red_8.png")
    with TestClient(create_app(tmp_path / "idx", embedder)) as c:
        assert c.get("/images/circle/blue_8.png").status_code == 200
        assert c.get("/images/circle/red_8.png").status_code == 404


def test_oversized_upload_is_413(client):
    big = b"\x89PNG" + b"\0" * (200 * 1024)
    assert_clean_error(client.post("/api/search/image", files={"file": ("big.png", big, "image/png")}), 413)
    # just over the file limit but within the body allowance: caught after parsing
    over = b"\x89PNG" + b"\0" * (64 * 1024)
    assert_clean_error(client.post("/api/search/image", files={"file": ("o.png", over, "image/png")}), 413)


def test_chunked_upload_without_length_is_cut_off(client):
    def chunks():
        for _ in range(64):
            yield b"\0" * 8192

    r = client.post("/api/search/image", content=chunks(),
                    headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert_clean_error(r, 413)


def test_wrong_content_type_is_415(client):
    r = client.post("/api/search/image", files={"file": ("a.txt", b"hello", "text/plain")})
    assert_clean_error(r, 415)
    r = client.post("/api/classify", files={"file": ("a.pdf", b"%PDF", "application/pdf")},
                    data={"labels": "a, b"})
    assert_clean_error(r, 415)


@pytest.mark.parametrize("data", [b"garbage bytes, not a png", b"", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"])
def test_undecodable_upload_is_400(client, data):
    r = client.post("/api/search/image", files={"file": ("x.png", data, "image/png")})
    assert_clean_error(r, 400)


def test_missing_file_is_422(client):
    assert_clean_error(client.post("/api/search/image"), 422)


def test_unexpected_error_is_a_bare_500(built_index, clip_embedder, caplog):
    class Broken(FakeEmbedder):
        def embed_texts(self, texts):
            raise RuntimeError("secret internal detail /srv/model.py line 3")

    broken = Broken()
    broken.identity = clip_embedder.identity
    with TestClient(create_app(built_index, broken), raise_server_exceptions=False) as c:
        r = c.get("/api/search", params={"q": "cat"})
    assert_clean_error(r, 500)
    assert "secret" not in r.text and r.json()["detail"] == "internal server error"
    assert "secret internal detail" in caplog.text  # logged server-side


def test_info_health_page_and_openapi(client, clip_embedder):
    info = client.get("/api/info").json()
    assert info["index"]["count"] == 36 and info["model"] == clip_embedder.identity
    assert "image_root" not in info["index"] and "path" not in info["index"]  # no server paths
    assert info["limits"]["max_upload_bytes"] == 64 * 1024
    assert client.get("/healthz").json() == {"status": "ok", "images": 36}
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200 and "https://" not in r.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/search/image", "/api/classify", "/api/info", "/healthz",
            "/images/{image_id}"} <= set(paths)
    assert "post" in paths["/api/classify"] and "get" in paths["/api/search"]


def test_refuses_an_index_of_another_model(built_index):
    with pytest.raises(IndexMismatchError):
        create_app(built_index, FakeEmbedder())


def _concurrent_statuses(app, n: int) -> list[int]:
    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            responses = await asyncio.gather(*[c.get("/api/search", params={"q": f"q{i}"}) for i in range(n)])
        return [r.status_code for r in responses], [r.json() for r in responses]
    return asyncio.run(main())


def test_saturated_model_gives_503_and_slow_work_504(tmp_path):
    root = tmp_path / "imgs"
    write_shapes(root, shapes=("circle",), colours=("red",), sizes=(8, 9))
    build_index(FakeEmbedder("slow"), root, tmp_path / "idx", progress=False)
    busy = create_app(tmp_path / "idx", FakeEmbedder("slow", delay_s=0.3), max_concurrency=1,
                      queue_wait_s=0.05, request_timeout_s=5)
    statuses, bodies = _concurrent_statuses(busy, 3)
    assert sorted(statuses) == [200, 503, 503]
    assert all("busy" in b["detail"] for s, b in zip(statuses, bodies) if s == 503)
    slow = create_app(tmp_path / "idx", FakeEmbedder("slow", delay_s=0.5), request_timeout_s=0.1)
    statuses, bodies = _concurrent_statuses(slow, 1)
    assert statuses == [504] and "too long" in bodies[0]["detail"]
    assert not any(marker in json.dumps(bodies) for marker in TRACE_MARKERS)


def test_public_identity_hides_server_paths():
    from simclip.serve.app import public_identity

    identity = {"model": "m", "checkpoint": "/srv/models/weights.pt", "sha256": "ab", "embed_dim": 4}
    assert public_identity(identity) == {**identity, "checkpoint": "weights.pt"}
    assert public_identity({**identity, "checkpoint": None})["checkpoint"] is None


def test_decompression_bomb_upload_is_400(client):
    from tests.serve.test_images import _png_claiming_size

    r = client.post("/api/search/image", files={"file": ("bomb.png", _png_claiming_size(30_000, 30_000),
                                                          "image/png")})
    assert_clean_error(r, 400)
    assert "exceeds the limit" in r.json()["detail"]
