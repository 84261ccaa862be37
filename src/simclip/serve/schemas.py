"""JSON shapes of the service's responses; FastAPI publishes them in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Hit(BaseModel):
    id: str = Field(description="the image's path relative to the index's image root")
    score: float = Field(description="cosine similarity to the query, in [-1, 1]")
    url: str = Field(description="where the image is served: /images/{id}")


class SearchResponse(BaseModel):
    query: str = Field(description="the text searched for, or the uploaded file's name")
    k: int
    results: list[Hit]
    took_ms: float


class LabelProbability(BaseModel):
    label: str
    prompt: str = Field(description="the text embedded for this label")
    probability: float


class ClassifyResponse(BaseModel):
    results: list[LabelProbability] = Field(description="one entry per label, in the order given")
    logit_scale: float = Field(description="inverse temperature applied to cosine similarities")
    took_ms: float


class InfoResponse(BaseModel):
    index: dict[str, Any]
    model: dict[str, Any]
    limits: dict[str, Any]


class Health(BaseModel):
    status: str
    images: int


class ErrorResponse(BaseModel):
    detail: str
