"""How failures become responses: one JSON shape ``{"detail": message}``, never a stack trace.

Expected failures map to their status (400 undecodable image, 422 invalid parameters, 503 busy,
504 deadline passed); anything else is logged here, with its traceback, and answered with a bare 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from simclip.serve.images import ImageDecodeError
from simclip.serve.limits import Busy, WorkTimeout

log = logging.getLogger(__name__)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "request"
    if error.get("type") == "string_pattern_mismatch":
        return f"{where}: must contain a non-space character"
    if error.get("type") == "missing":
        return f"{where}: required"
    return f"{where}: {error.get('msg', 'invalid')}"


# Handlers take ``Exception``, the type Starlette's registry declares; each is registered for one class.
async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    # The offending input is not echoed back: it may be megabytes long.
    details = exc.errors() if isinstance(exc, RequestValidationError) else []
    messages = [_describe(e) for e in details]
    errors = [{"loc": list(e.get("loc", ())), "msg": msg} for e, msg in zip(details, messages)]
    return JSONResponse({"detail": "; ".join(messages), "errors": errors}, status_code=422)


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "server busy: all model workers are in use, retry shortly"},
                        status_code=503, headers={"Retry-After": "1"})


async def _timeout(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "the request took too long and was abandoned"}, status_code=504)


async def _bad_image(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=400)


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Busy, _busy)
    app.add_exception_handler(WorkTimeout, _timeout)
    app.add_exception_handler(ImageDecodeError, _bad_image)
    app.add_exception_handler(Exception, _internal)
