"""Uploads: files for `upload` steps, kept in the project's own folder."""

from __future__ import annotations

import asyncio
import fcntl
import re
import time
import uuid
from pathlib import Path

from fastapi import APIRouter, Request, Response, status
from starlette.datastructures import FormData

from api.deps import ProjectDep, ServicesDep
from api.errors import ApiError
from api.limits import BodyTooLarge
from api.schemas import UploadPublic
from core.definition import UPLOAD_NAME

router = APIRouter(prefix="/api/uploads", tags=["uploads"])
CHUNK = 64 * 1024
LOCK_NAME = ".lock"
STALE_PART_S = 3600


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
    past `total` bytes for the folder as a whole (a file it replaces does not count). The room
    is checked and reserved in one step under the folder's lock, so parallel uploads cannot
    pass the quota together."""
    file = form.get("file")
    if file is None or isinstance(file, str):
        raise ApiError(422, "invalid_request", "file: a file field named 'file' is required")
    name = sanitise(file.filename or "")
    size = file.size if file.size is not None else len(await file.read())
    await file.seek(0)
    partial = await asyncio.to_thread(reserve, folder, name, size, limit, total)
    try:
        with partial.open("r+b") as out:
            while chunk := await file.read(CHUNK):
                out.write(chunk)
        partial.replace(folder / name)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return UploadPublic(name=name, size=size)


def reserve(folder: Path, name: str, size: int, limit: int, total: int) -> Path:
    """A partial file of `size` bytes (counted by every other upload from now on), if the
    file fits; else 413. Checked under an exclusive lock on the folder."""
    with (folder / LOCK_NAME).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        used = sum(size_of(path) for path in folder.iterdir() if counts(path, name))
        if size > min(limit, total - used):
            raise _too_large(limit, total, used)
        partial = folder / f".{name}.{uuid.uuid4().hex[:12]}.part"
        with partial.open("wb") as out:
            out.truncate(size)  # the reservation: its size counts at once
        return partial


def counts(path: Path, replaced: str) -> bool:
    """Whether a file of the folder counts toward its quota: every upload but the one being
    replaced, and every reservation younger than an hour (an older one was abandoned)."""
    if path.name == LOCK_NAME or path.name == replaced or not path.is_file():
        return False
    if path.name.endswith(".part") and time.time() - path.stat().st_mtime > STALE_PART_S:
        path.unlink(missing_ok=True)
        return False
    return True


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # renamed or removed meanwhile
        return 0


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


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_upload(name: str, project: ProjectDep, services: ServicesDep) -> Response:
    """Delete one of the project's uploaded files (its room in the quota is free at once)."""
    assert project.id is not None
    missing = ApiError(404, "upload_not_found", f"upload {name!r} not found")
    try:
        if sanitise(name) != name:
            raise missing
    except ApiError:
        raise missing from None
    path = project_folder(services, project.id) / name
    if not path.is_file():
        raise missing
    path.unlink(missing_ok=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
