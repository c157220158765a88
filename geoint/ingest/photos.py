"""Photos of seizures: decoded to check what they are, turned upright, stripped of metadata.

The content decides, never the file name or the declared type: only what Pillow decodes as
JPEG, PNG or WebP is accepted. The image is turned as its EXIF orientation says, then encoded
again without any metadata (EXIF, XMP, comments), so the stored file never carries the
camera's GPS position; that position is read first and handed back to the caller.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from geoint.errors import InputError

FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
QUALITY = 90  # JPEG and WebP re-encoding: visually lossless for evidence photos
THUMBNAIL_QUALITY = 80
THUMBNAIL_MEDIA_TYPE = "image/jpeg"


class PhotoTooLargeError(InputError):
    """The image has more pixels than allowed (a decompression bomb, or a panorama)."""


@dataclass(frozen=True)
class Photo:
    """A photo ready to store: its clean bytes, what it is, and the GPS position it carried."""

    content: bytes
    sha256: str
    media_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes
    exif_position: tuple[float, float] | None  # (lat, lon)


def prepare_photo(source: IO[bytes], field: str, max_pixels: int, thumbnail_px: int) -> Photo:
    """Decode an uploaded image and return it upright, without metadata, with its thumbnail.

    Raises InputError naming `field` when the content is not a JPEG, PNG or WebP image, and
    PhotoTooLargeError when it has more than `max_pixels` pixels (checked before decoding).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            if image.format not in FORMATS:
                raise InputError(field, f"a JPEG, PNG or WebP image, got {image.format} data")
            if image.width * image.height > max_pixels:
                raise PhotoTooLargeError(
                    field, f"an image of at most {max_pixels} pixels, got {image.width} x "
                    f"{image.height}",
                )  # fmt: skip
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(
            field, "a JPEG, PNG or WebP image (the content could not be decoded)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoTooLargeError(field, f"an image of at most {max_pixels} pixels") from None
    media_type, extension = FORMATS[image.format]
    position = exif_position(image.getexif())
    upright = ImageOps.exif_transpose(image)
    content = _encode(upright, image.format)
    return Photo(
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        media_type=media_type,
        extension=extension,
        width=upright.width,
        height=upright.height,
        thumbnail=_thumbnail(upright, thumbnail_px),
        exif_position=position,
    )


def exif_position(exif: Image.Exif) -> tuple[float, float] | None:
    """The (lat, lon) of an EXIF GPS block, if it holds a usable one."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    try:
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"))
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return None
    return round(lat, 7), round(lon, 7)


def _degrees(parts: tuple, ref: str | bytes) -> float:
    degrees, minutes, seconds = (float(part) for part in parts)
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -value if ref.strip().upper() in ("S", "W") else value


def _encode(image: Image.Image, fmt: str) -> bytes:
    """The image in its format, with no metadata (Pillow writes none unless given)."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=QUALITY, optimize=True)
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", quality=QUALITY)
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def _thumbnail(image: Image.Image, size: int) -> bytes:
    small = image.convert("RGB")
    small.thumbnail((size, size))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue()
