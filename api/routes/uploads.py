"""Uploads: files for `upload` steps, kept in the project's own folder."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Request, status
from starlette.datastructures import FormData

from api.deps import ProjectDep, ServicesDep
from api.errors import ApiError
from api.limits import BodyTooLarge
from api.schemas import UploadPublic
from core.definition import UPLOAD_NAME

router = APIRouter(prefix="/api/uploads", tags=["uploads"])
CHUNK = 64 * 1024


def sanitise(name: str) -> str:
    """A safe file name: the last path part, with anything unusual replaced by '_'."""
    base = re.split(r"[\\/]", name)[-1].strip()
    cleaned = re.sub(r"[^A-Za-z0-9._ -]", "_", base).lstrip(". -")[:200]
    if not cleaned or not UPLOAD_NAME.fullmatch(cleaned):
        raise ApiError(422, "invalid_request", f"file name {name!r} cannot be used")
    return cleaned


def project_folder(services: ServicesDep, project_id: int) -> Path:
    folder = Path(services.settings.uploads_dir) / str(project_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@router.post(
    "",
    response_model=UploadPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
            "required": True,
        }
    },
)
async def upload(request: Request, project: ProjectDep, services: ServicesDep) -> UploadPublic:
    """Store one file (multipart field `file`) for `upload` steps; replaces one of the same name."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "send the file as multipart/form-data")
    limit = services.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise ApiError(413, "too_large", f"uploads are limited to {limit} bytes")
    try:
        form = await request.form(max_files=1, max_fields=5)
    except BodyTooLarge:
        raise  # the size limit's own 413
    except Exception:
        raise ApiError(422, "invalid_request", "the multipart body cannot be read") from None
    assert project.id is not None
    total = services.settings.limits_for(project.limits).max_upload_bytes
    try:
        return await save_upload(form, project_folder(services, project.id), limit, total)
    finally:
        await form.close()  # the spooled temporary file of the request


async def save_upload(form: FormData, folder: Path, limit: int, total: int) -> UploadPublic:
    """Write the form's `file` into the folder under its sanitised name; 413 past `limit`, or
    past `total` bytes for the folder as a whole (a file it replaces does not count)."""
    file = form.get("file")
    if file is None or isinstance(file, str):
        raise ApiError(422, "invalid_request", "file: a file field named 'file' is required")
    name = sanitise(file.filename or "")
    target = folder / name
    used = sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.name != name)
    room = min(limit, total - used)
    partial = target.with_name(f".{name}.part")
    size = 0
    with partial.open("wb") as out:
        while chunk := await file.read(CHUNK):
            size += len(chunk)
            if size > room:
                out.close()
                partial.unlink(missing_ok=True)
                raise _too_large(limit, total, used)
            out.write(chunk)
    partial.replace(target)
    return UploadPublic(name=name, size=size)


def _too_large(limit: int, total: int, used: int) -> ApiError:
    if total - used < limit:
        detail = f"the project's uploads are limited to {total} bytes in all ({used} used)"
    else:
        detail = f"uploads are limited to {limit} bytes"
    return ApiError(413, "too_large", detail)


@router.get("", response_model=list[UploadPublic])
async def list_uploads(project: ProjectDep, services: ServicesDep) -> list[UploadPublic]:
    """The project's uploaded files."""
    assert project.id is not None
    folder = project_folder(services, project.id)
    return [
        UploadPublic(name=path.name, size=path.stat().st_size)
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".")
    ]
