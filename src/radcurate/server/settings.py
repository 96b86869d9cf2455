"""Typed settings of the HTTP server, passed explicitly to :func:`create_app`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from radcurate.settings import Settings

ENV_CORS_ORIGINS = "RADCURATE_CORS_ORIGINS"
ENV_MAX_FRAME_LIST = "RADCURATE_MAX_FRAME_LIST"
ENV_MAX_FRAMES_BYTES = "RADCURATE_MAX_FRAMES_BYTES"
ENV_MAX_STOW_BYTES = "RADCURATE_MAX_STOW_BYTES"
MIB = 1 << 20


def _int_env(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of bytes or items, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


def _list_env(env: dict[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def _check_oidc(issuer: str, client_id: str, claim: str) -> None:
    """Refuse an OIDC setup that cannot work or is unsafe (plain HTTP off loopback)."""
    parts = urlsplit(issuer)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError(
            f"the OIDC issuer must be an https:// URL (http:// only on loopback), not {issuer!r}"
        )
    if not client_id:
        raise ValueError(
            "an OIDC issuer needs this server's client id there "
            "(--oidc-client-id or RADCURATE_OIDC_CLIENT_ID)"
        )
    if not claim:
        raise ValueError("the OIDC username claim must not be empty")


@dataclass(frozen=True)
class ServerSettings:
    """What the server needs: the catalog, where thumbnails are cached, CORS.

    Parameters
    ----------
    home
        ``$RADCURATE_HOME``; thumbnails are cached under ``home / "thumbnails"``.
    catalog_url
        The catalog to open in the app's lifespan (default: the one in ``home``).
    cors_origins
        Origins allowed to call the API from a browser (none: CORS is off).
    thumbnail_size
        Edge of the thumbnails in pixels (part of their cache key).

    Examples
    --------
    >>> ServerSettings(home=Path("/data"), cors_origins=("http://localhost:5173",)).catalog_url
    'sqlite:////data/catalog.sqlite'
    """

    home: Path = field(default_factory=lambda: Settings().home)
    catalog_url: str = ""
    cors_origins: tuple[str, ...] = ()
    thumbnail_size: int = 256
    #: fill missing thumbnails in a background job at startup (on in ``from_env``; see docs/jobs.md)
    background_thumbnails: bool = False
    #: STOW-RS of a stored SOP Instance UID with other content replaces the original (kept
    #: under ``.replaced/``, audited) instead of being refused (storage/originals.py)
    allow_replace: bool = False
    #: most entries in a WADO-RS frame list (or the instance's frame count, if more) -> 400
    max_frame_list: int = 1000
    #: most bytes of frames in one WADO-RS frames answer -> 413
    max_frames_bytes: int = 512 * MIB
    #: most bytes of one STOW-RS request body (streamed to disk, never held in memory) -> 413
    max_stow_bytes: int = 2048 * MIB
    #: ``auto``: ask for credentials once the catalog has a user; ``on``: always (docs/auth.md)
    auth: str = "auto"
    #: Host header names answered (``*.example.org`` for subdomains); empty: any (``serve``
    #: always sets them, against DNS rebinding)
    allowed_hosts: tuple[str, ...] = ()
    #: addresses of reverse proxies trusted to name the user in ``proxy_user_header``
    trusted_proxies: tuple[str, ...] = ()
    proxy_user_header: str = ""
    #: how long a UI login lasts (hours)
    session_hours: float = 12.0
    #: OpenID Connect single sign-on (docs/auth-oidc.md): the provider's issuer URL (empty:
    #: off), this server's client id there, its secret (confidential clients only) and the
    #: ID-token claim that names the local user (roles stay local)
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_username_claim: str = "preferred_username"
    #: where exports started over HTTP are written, one folder per job (default
    #: ``home / "exports"``; ``RADCURATE_EXPORT_DIR``); a client never names a server path
    export_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.auth not in ("auto", "on"):
            raise ValueError(f"auth must be 'auto' or 'on', not {self.auth!r}")
        if self.trusted_proxies and not self.proxy_user_header:
            raise ValueError("trusted proxies need the header that names the user")
        if self.oidc_issuer:
            _check_oidc(self.oidc_issuer, self.oidc_client_id, self.oidc_username_claim)
        if not self.catalog_url:
            object.__setattr__(self, "catalog_url", Settings(home=self.home).catalog_url)

    @property
    def thumbnail_root(self) -> Path:
        """The thumbnail cache folder."""
        return self.home / "thumbnails"

    @property
    def export_root(self) -> Path:
        """The folder of the exports started over HTTP (docs/export.md)."""
        return self.export_dir or self.home / "exports"

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, *, catalog_url: str | None = None
    ) -> ServerSettings:
        """Settings from the environment (``RADCURATE_HOME``, ``RADCURATE_CATALOG``,
        ``RADCURATE_CORS_ORIGINS`` as a comma-separated list, the size caps
        ``RADCURATE_MAX_FRAME_LIST``, ``RADCURATE_MAX_FRAMES_BYTES``,
        ``RADCURATE_MAX_STOW_BYTES``, ``RADCURATE_AUTH``, ``RADCURATE_ALLOWED_HOSTS``,
        ``RADCURATE_TRUSTED_PROXIES``, ``RADCURATE_PROXY_USER_HEADER``, ``RADCURATE_OIDC_ISSUER``,
        ``RADCURATE_OIDC_CLIENT_ID``, ``RADCURATE_OIDC_CLIENT_SECRET``,
        ``RADCURATE_OIDC_USERNAME_CLAIM``, ``RADCURATE_EXPORT_DIR``); ``catalog_url`` overrides."""
        env = dict(os.environ) if environ is None else environ
        base = Settings.from_env(env)
        origins = tuple(o.strip() for o in env.get(ENV_CORS_ORIGINS, "").split(",") if o.strip())
        return cls(
            home=base.home,
            catalog_url=catalog_url or base.catalog_url,
            cors_origins=origins,
            background_thumbnails=env.get("RADCURATE_BACKGROUND_THUMBNAILS", "1") != "0",
            max_frame_list=_int_env(env, ENV_MAX_FRAME_LIST, 1000),
            max_frames_bytes=_int_env(env, ENV_MAX_FRAMES_BYTES, 512 * MIB),
            max_stow_bytes=_int_env(env, ENV_MAX_STOW_BYTES, 2048 * MIB),
            auth=env.get("RADCURATE_AUTH", "auto").strip() or "auto",
            allowed_hosts=_list_env(env, "RADCURATE_ALLOWED_HOSTS"),
            trusted_proxies=_list_env(env, "RADCURATE_TRUSTED_PROXIES"),
            proxy_user_header=env.get("RADCURATE_PROXY_USER_HEADER", "").strip(),
            oidc_issuer=env.get("RADCURATE_OIDC_ISSUER", "").strip(),
            oidc_client_id=env.get("RADCURATE_OIDC_CLIENT_ID", "").strip(),
            oidc_client_secret=env.get("RADCURATE_OIDC_CLIENT_SECRET", "").strip(),
            oidc_username_claim=env.get("RADCURATE_OIDC_USERNAME_CLAIM", "").strip()
            or "preferred_username",
            export_dir=Path(exports) if (exports := env.get("RADCURATE_EXPORT_DIR")) else None,
        )
