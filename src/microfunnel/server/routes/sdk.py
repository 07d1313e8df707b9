"""The browser snippet, served by the collector so a shop adds one script tag."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

__all__ = ["router"]

router = APIRouter(tags=["sdk"])


@lru_cache(maxsize=1)
def _snippet() -> bytes:
    return (files("microfunnel.sdk") / "static" / "microfunnel.js").read_bytes()


@router.get("/microfunnel.js", include_in_schema=False)
def snippet() -> Response:
    return Response(
        _snippet(),
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )
