"""The web service: text->image and image->image search, zero-shot classification, and a web page.

Routes (OpenAPI schema at ``/openapi.json``):
  ``GET  /``                    the search page (static HTML/CSS/JS shipped with the package)
  ``GET  /api/search?q=&k=``    images that match a text
  ``POST /api/search/image``    images similar to an uploaded one (multipart field ``file``)
  ``POST /api/classify``        zero-shot label probabilities for an upload (``file``, ``labels``)
  ``GET  /api/info``            the index, the model identity and the service's limits
  ``GET  /images/{id}``         an indexed image — only ids in the index, never an arbitrary path
  ``GET  /healthz``             liveness
  ``GET  /metrics``             counters in the Prometheus text format (see :mod:`simclip.serve.metrics`)
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import faiss
import numpy as np
from fastapi import APIRouter, FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simclip.serve.batcher import BatchingEmbedder
from simclip.serve.embedder import Embedder
from simclip.serve.errors import install_error_handlers
from simclip.serve.images import DEFAULT_MAX_PIXELS, MEDIA_TYPES, decode_image_bytes
from simclip.serve.index import ImageIndex
from simclip.serve.limits import (DEFAULT_MAX_UPLOAD_BYTES, MAX_K, MAX_LABEL_CHARS, MAX_LABELS,
                                  MAX_QUERY_CHARS, MULTIPART_OVERHEAD_BYTES, BodySizeLimit, ModelGate)
from simclip.serve.metrics import CONTENT_TYPE, Metrics, RequestMetrics
from simclip.serve.schemas import (ClassifyResponse, ErrorResponse, Health, Hit, InfoResponse,
                                   LabelProbability, SearchResponse)

STATIC_DIR = Path(__file__).parent / "static"
PROMPT = "a photo of a {}."  # Radford et al. 2021, the single prompt of their zero-shot baseline
UPLOAD_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff")
# Everything the page needs is served by the app itself; nothing may load from elsewhere.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                                 b"base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 413, 415, 422, 503, 504)}
# Parameter types at module level: route annotations are resolved against this module's globals.
KParam = Annotated[int, Query(ge=1, le=MAX_K, description=f"number of results, 1..{MAX_K}")]
QueryText = Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S",
                                 description="what to look for, in words")]
ImageUpload = Annotated[UploadFile, File(description=f"an image: {', '.join(UPLOAD_TYPES)}")]
LabelList = Annotated[str, Form(min_length=1, max_length=MAX_LABELS * (MAX_LABEL_CHARS + 2),
                                description="comma-separated class names, 2 to 50")]


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


async def read_upload(file: UploadFile, max_bytes: int) -> bytes:
    """The upload's bytes after checking its declared type (415) and its size (413)."""
    media_type = (file.content_type or "").split(";")[0].strip().lower()
    if media_type not in UPLOAD_TYPES:
        raise HTTPException(415, f"unsupported media type {media_type or 'none'!r}; upload one of "
                                 f"{', '.join(UPLOAD_TYPES)}")
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HTTPException(413, f"upload exceeds the limit of {max_bytes:,} bytes")
    return data


def parse_labels(labels: str) -> list[str]:
    """Comma-separated labels -> list; 422 unless there are 2..50 distinct ones of <= 100 characters."""
    items = [label.strip() for label in labels.split(",") if label.strip()]
    problem = None
    if not 2 <= len(items) <= MAX_LABELS:
        problem = f"give between 2 and {MAX_LABELS} comma-separated labels, got {len(items)}"
    elif any(len(label) > MAX_LABEL_CHARS for label in items):
        problem = f"each label must have at most {MAX_LABEL_CHARS} characters"
    elif len(set(items)) != len(items):
        problem = "labels must be distinct"
    if problem:
        raise HTTPException(422, f"labels: {problem}")
    return items


def zero_shot(embedder: Embedder, image_vec: np.ndarray, labels: list[str]) -> list[LabelProbability]:
    """Softmax over ``logit_scale * cos(image, "a photo of a {label}.")`` (Radford et al. 2021)."""
    prompts = [PROMPT.format(label) for label in labels]
    text = embedder.embed_texts(prompts).astype(np.float64)
    logits = embedder.logit_scale * (text @ image_vec.astype(np.float64).reshape(-1))
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    return [LabelProbability(label=lb, prompt=pr, probability=float(p))
            for lb, pr, p in zip(labels, prompts, probs)]


def public_index_info(index: ImageIndex) -> dict[str, Any]:
    """What clients may see of an index: no server paths."""
    info = index.info()
    return {key: info[key] for key in ("count", "dim", "vector_index", "created", "updated")}


def public_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """The model identity with the checkpoint reduced to its file name (no server paths)."""
    checkpoint = identity.get("checkpoint")
    return {**identity, "checkpoint": Path(checkpoint).name if checkpoint else None}


def _hits(scores: np.ndarray, ids: list[str]) -> list[Hit]:
    return [Hit(id=i, score=float(s), url=f"/images/{quote(i)}") for s, i in zip(scores, ids)]


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def upload_decode_side(embedder: Embedder) -> int | None:
    """The smallest side an upload needs to be decoded at: twice the model's input side, as Pillow's
    ``thumbnail`` keeps twice its target (``reducing_gap``) so that the final antialiased resize still
    has pixels to average; None (full size) when the embedder does not say its input side."""
    side = getattr(embedder, "image_size", None)
    return 2 * side if isinstance(side, int) else None


def api_routes(index: ImageIndex, embedder: Embedder, gate: ModelGate, max_upload_bytes: int,
               max_pixels: int) -> APIRouter:
    """The ``/api`` routes over one loaded index and model."""
    router = APIRouter(prefix="/api", responses=ERRORS)
    min_side = upload_decode_side(embedder)

    def decode(data: bytes) -> Image.Image:
        return decode_image_bytes(data, max_pixels, min_side)

    @router.get("/search", response_model=SearchResponse, summary="text -> images")
    async def search_text(q: QueryText, k: KParam = 12) -> SearchResponse:
        start = time.perf_counter()
        scores, ids = await gate.run(lambda: index.search(embedder.embed_texts([q.strip()]), k))
        return SearchResponse(query=q, k=k, results=_hits(scores[0], ids[0]), took_ms=_ms_since(start))

    @router.post("/search/image", response_model=SearchResponse, summary="image -> similar images")
    async def search_image(file: ImageUpload, k: KParam = 12) -> SearchResponse:
        start = time.perf_counter()
        data = await read_upload(file, max_upload_bytes)
        scores, ids = await gate.run(
            lambda: index.search(embedder.embed_images([decode(data)]), k))
        return SearchResponse(query=file.filename or "upload", k=k, results=_hits(scores[0], ids[0]),
                              took_ms=_ms_since(start))

    @router.post("/classify", response_model=ClassifyResponse, summary="zero-shot classification")
    async def classify(file: ImageUpload, labels: LabelList) -> ClassifyResponse:
        start = time.perf_counter()
        names = parse_labels(labels)
        data = await read_upload(file, max_upload_bytes)
        results = await gate.run(lambda: zero_shot(
            embedder, embedder.embed_images([decode(data)])[0], names))
        return ClassifyResponse(results=results, logit_scale=embedder.logit_scale, took_ms=_ms_since(start))

    @router.get("/info", response_model=InfoResponse, summary="index, model and limits")
    async def info() -> InfoResponse:
        limits = {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels, "max_k": MAX_K,
                  "max_query_chars": MAX_QUERY_CHARS, "max_labels": MAX_LABELS,
                  "max_concurrency": gate.max_concurrency, "request_timeout_s": gate.timeout_s}
        return InfoResponse(index=public_index_info(index), model=public_identity(embedder.identity),
                            limits=limits)

    return router


def page_routes(index: ImageIndex, metrics: Metrics) -> APIRouter:
    """The web page, the indexed images, the health check and the metrics."""
    router = APIRouter()

    @router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics_text() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC_DIR / "index.html").read_text(encoding="utf-8"))

    @router.get("/images/{image_id:path}", response_class=FileResponse, summary="an indexed image",
                responses={404: {"model": ErrorResponse}})
    async def image_file(image_id: str) -> FileResponse:
        path = index.file_of(image_id)  # a lookup in the id list: no path is built from the request
        if path is None:
            raise HTTPException(404, "no such image in the index")
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
                            headers={"Cache-Control": "public, max-age=3600"})

    @router.get("/healthz", response_model=Health, summary="liveness")
    async def healthz() -> Health:
        return Health(status="ok", images=len(index))

    return router


def create_app(index_dir: str | Path, embedder: Embedder, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               max_concurrency: int = 4, request_timeout_s: float = 10.0, queue_wait_s: float = 2.0,
               max_pixels: int = DEFAULT_MAX_PIXELS, metrics_dir: str | Path | None = None) -> FastAPI:
    """The FastAPI app serving the index at ``index_dir`` with ``embedder``.

    Raises :class:`~simclip.serve.index.IndexMismatchError` when the index was built by another model.
    ``max_concurrency`` model calls run at once; a request waits at most ``queue_wait_s`` for one (then
    503) and gets ``request_timeout_s`` in all (then 504). Uploads over ``max_upload_bytes`` get 413.
    ``metrics_dir``: the folder where the worker processes of one service pool their ``/metrics``.
    """
    if max_upload_bytes < 1:
        raise ValueError(f"max_upload_bytes must be >= 1, got {max_upload_bytes}")
    index = ImageIndex(index_dir, embedder.identity)
    gate = ModelGate(max_concurrency, request_timeout_s, queue_wait_s)
    metrics = Metrics(lambda: len(index),
                      embedder.batch_size_counts if isinstance(embedder, BatchingEmbedder) else None,
                      metrics_dir)
    # One FAISS thread per search: concurrent requests are the service's parallelism, and OpenMP teams
    # inside each single-query search oversubscribe the cores (a 20k x 512 exact search measured 1.8 ms
    # on one thread, 47 ms on two, on a busy two-core machine). The setting is process-wide.
    faiss.omp_set_num_threads(1)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        gate.close()

    # Swagger UI and ReDoc load their scripts from a CDN, which this service must not depend on.
    app = FastAPI(title="simclip image search", description=__doc__, docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_body_bytes=max_upload_bytes + MULTIPART_OVERHEAD_BYTES)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.include_router(api_routes(index, embedder, gate, max_upload_bytes, max_pixels))
    app.include_router(page_routes(index, metrics))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.index, app.state.embedder, app.state.gate, app.state.metrics = index, embedder, gate, metrics
    return app


def serve(index_dir: str | Path, embedder: Embedder, host: str = "127.0.0.1", port: int = 8000,
          **app_options: Any) -> None:
    """Run the service with uvicorn until interrupted; ``app_options`` go to :func:`create_app`."""
    import uvicorn

    from simclip.serve.heap import freeze_startup_heap

    app = create_app(index_dir, embedder, **app_options)
    freeze_startup_heap()  # the start-up objects out of the collector's full passes
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
