"""Exchange packages: a signed ZIP of a manifest and records (docs/exchange.md).

Layout: ``manifest.json`` and ``records.ndjson`` (one JSON record per line), written with fixed
timestamps, then a 128-character archive comment holding the Ed25519 signature (hex) of every
byte before it. Signing the whole file, ZIP headers included, means that any byte changed
anywhere fails the check; the reader verifies it before it parses anything else.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from geoint.atomic import write_bytes
from geoint.errors import GeointError
from geoint.exchange.policy import FIELDS, Policy

FORMAT = "geoint-exchange"
SCHEMA_VERSION = 1
SCHEMA_FILE = f"exchange-{SCHEMA_VERSION}.schema.json"
MANIFEST = "manifest.json"
RECORDS = "records.ndjson"
PRIVATE_KEY_FILE = "exchange_ed25519.pem"
PUBLIC_KEY_FILE = "exchange_ed25519.pub.pem"
SIGNATURE_CHARS = 128  # an Ed25519 signature (64 bytes) in hex
_EPOCH = (1980, 1, 1, 0, 0, 0)  # ZIP's earliest time: the same records give the same bytes


class ExchangeError(GeointError, ValueError):
    """A package, key or policy cannot be used; nothing was stored or written."""


# ---------------------------------------------------------------------------- keys
def generate_keys(folder: Path) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair (PEM) into `folder`; return the private and public files."""
    folder = Path(folder)
    private_path, public_path = folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise ExchangeError(f"{path}: a key is already there; choose another --out folder")
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # the private key is readable by its owner only, from its first byte on disk
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private)
    write_bytes(public, public_path)
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file (`geoint exchange keygen`)."""
    key = _load(path, serialization.load_pem_private_key, "private")
    if not isinstance(key, Ed25519PrivateKey):
        raise ExchangeError(f"{path}: expected an Ed25519 private key (geoint exchange keygen)")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file (`geoint exchange keygen`)."""
    key = _load(path, serialization.load_pem_public_key, "public")
    if not isinstance(key, Ed25519PublicKey):
        raise ExchangeError(f"{path}: expected an Ed25519 public key (geoint exchange keygen)")
    return key


def _load(path: Path, loader: Any, which: str) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ExchangeError(f"{path}: cannot read the {which} key ({exc.strerror})") from exc
    try:
        return loader(data, password=None) if which == "private" else loader(data)
    except (ValueError, TypeError) as exc:
        raise ExchangeError(f"{path}: expected a PEM Ed25519 {which} key ({exc})") from exc


def fingerprint(key: Ed25519PublicKey) -> str:
    """A short id of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def private_secret(key: Ed25519PrivateKey) -> bytes:
    """The private key's raw bytes: the secret that pseudonym keys are derived from."""
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


# ------------------------------------------------------------------------ packages
def write_package(
    target: Path, manifest: dict[str, Any], records: bytes, key: Ed25519PrivateKey
) -> Path:
    """Write a signed package atomically: the manifest gets the records' digest and the key's
    fingerprint; return `target`."""
    manifest = {
        **manifest,
        "signing_key": fingerprint(key.public_key()),
        "files": {RECORDS: hashlib.sha256(records).hexdigest()},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in ((MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2)),
                           (RECORDS, records)):  # fmt: skip
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=1)
        archive.comment = b"0" * SIGNATURE_CHARS  # its length is part of what is signed
    data = buffer.getvalue()
    signed = data[:-SIGNATURE_CHARS]
    return write_bytes(signed + key.sign(signed).hex().encode(), target)


def read_package(path: Path, trusted: Ed25519PublicKey) -> tuple[dict[str, Any], bytes]:
    """Verify a package against the trusted key, then return its manifest and records bytes.

    Every refusal is one `ExchangeError` line naming the file and what is wrong.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExchangeError(f"{path}: cannot read the package ({exc.strerror})") from exc
    signed, comment = data[:-SIGNATURE_CHARS], data[-SIGNATURE_CHARS:]
    length = SIGNATURE_CHARS.to_bytes(2, "little")
    try:
        signature = bytes.fromhex(comment.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        signature = b""
    if len(data) < 22 + SIGNATURE_CHARS or signed[-2:] != length or len(signature) != 64:
        raise ExchangeError(
            f"{path}: refused: not a signed geoint exchange package (no signature at its end)"
        )
    try:
        trusted.verify(signature, signed)
    except InvalidSignature:
        signer = _claimed_signer(data)
        if signer is not None and signer != fingerprint(trusted):
            raise ExchangeError(
                f"{path}: refused: signed by key {signer}, not by the trusted key "
                f"{fingerprint(trusted)} (--trust)"
            ) from None
        raise ExchangeError(
            f"{path}: refused: the signature does not match the content "
            f"(changed after signing, or signed by another key than {fingerprint(trusted)})"
        ) from None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = sorted(archive.namelist())
            if names != sorted((MANIFEST, RECORDS)):
                raise ExchangeError(
                    f"{path}: refused: expected the files {MANIFEST} and {RECORDS}, got {names}"
                )
            manifest_bytes, records = archive.read(MANIFEST), archive.read(RECORDS)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ExchangeError(f"{path}: refused: not a readable ZIP file ({exc})") from exc
    return check_manifest(path, manifest_bytes, records), records


def _claimed_signer(data: bytes) -> str | None:
    """The signing key the manifest names, if the file can be read that far."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            value = orjson.loads(archive.read(MANIFEST)).get("signing_key")
    except Exception:  # the file is refused anyway; this only chooses the message
        return None
    return value if isinstance(value, str) else None


def check_manifest(path: Path, data: bytes, records: bytes) -> dict[str, Any]:
    """The manifest, checked: JSON, this schema version, its schema, the records' digest."""
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ExchangeError(f"{path}: refused: {MANIFEST} is not JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ExchangeError(f"{path}: refused: {MANIFEST} is not a {FORMAT} manifest")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ExchangeError(
            f"{path}: refused: schema version {version!r} is not supported "
            f"(this geoint reads version {SCHEMA_VERSION})"
        )
    error = next(manifest_validator().iter_errors(manifest), None)
    if error is not None:
        where = "/".join(str(p) for p in error.instance_path) or "(top)"
        raise ExchangeError(f"{path}: refused: {MANIFEST} field {where}: {error.message}")
    if hashlib.sha256(records).hexdigest() != manifest["files"][RECORDS]:
        raise ExchangeError(f"{path}: refused: {RECORDS} does not match the manifest's digest")
    return manifest


@cache
def schema() -> dict[str, Any]:
    """The exchange JSON Schema shipped with the package (``exchange-1.schema.json``)."""
    return orjson.loads((files("geoint.exchange") / SCHEMA_FILE).read_bytes())


@cache
def manifest_validator() -> jsonschema_rs.Validator:
    """A validator of manifests."""
    return jsonschema_rs.validator_for({**schema(), "$ref": "#/$defs/manifest"})


def records_validator(policy: Policy) -> jsonschema_rs.Validator:
    """A validator of a whole records array: the kind's schema and, per field, the form its
    policy rule allows (a dropped field must be absent, a ``day`` a date, an ``h3:N`` position
    a cell of resolution N, a ``band`` a band, a ``pseudonym`` a pseudonym)."""
    properties = {}
    for field in policy.sent:
        rule = policy.rules[field]
        properties[field] = _rule_form(FIELDS[policy.kind][field], rule.name, rule.parameter)
    per_rule = {"type": "object", "properties": properties, "additionalProperties": False}
    item = {"allOf": [{"$ref": f"#/$defs/{policy.kind}"}, per_rule]}
    return jsonschema_rs.validator_for({**schema(), "type": "array", "items": item})


def _rule_form(field_type: str, rule: str, parameter: float | int | None) -> dict[str, Any]:
    """The JSON Schema a field's value takes under a rule (on top of the kind's schema)."""
    if rule == "day":
        return {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/day"}]}
    if rule == "keep" and field_type == "time":
        return {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/time"}]}
    if rule == "h3":
        return {
            "required": ["h3", "resolution"],
            "properties": {"resolution": {"const": parameter}},
        }
    if rule == "keep" and field_type == "position":
        return {"not": {"required": ["h3"]}}
    if rule == "band":
        return {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/band"}]}
    if rule == "keep" and field_type == "number":
        return {"type": ["number", "null"]}
    if rule == "pseudonym" and field_type == "identifiers":
        return {"type": ["array", "null"], "items": {"$ref": "#/$defs/pseudonym"}}
    if rule == "pseudonym":
        return {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/pseudonym"}]}
    return {}
