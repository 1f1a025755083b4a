"""Access tokens: short-lived ones the hub signs, and people's OIDC tokens.

A service trades its client credentials (key id and secret) at
`/oauth/token` for a JWT signed with HS256 under the `token_signing_key`
secret, living `TIELINE_TOKEN_TTL` seconds (RFC 6749 section 4.4; RFC 9068
for the claims). A person presents a token from the customer's identity
provider, checked against its JWKS (a file, or an https URL fetched and
cached by PyJWT), its issuer and its audience. Only asymmetric algorithms are
accepted from the provider, so a token signed with the provider's public key
as an HMAC secret (the "algorithm confusion" attack) is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from tieline.governance.identities import AuthenticationFailed, Identity

ISSUER = "tieline"
AUDIENCE = "tieline-api"
_PROVIDER_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True, slots=True)
class ServiceClaims:
    """What a verified hub token says: who, through which key, with which scopes."""

    identity_id: str
    key_id: str
    scopes: tuple[str, ...]


class TokenIssuer:
    """Signs and checks the hub's own access tokens."""

    def __init__(self, key: bytes, *, ttl: int) -> None:
        if len(key) < 32:
            raise ValueError("the token signing key must be at least 32 bytes")
        self._key = key
        self.ttl = ttl

    def issue(self, identity: Identity, key_id: str, scopes: tuple[str, ...]) -> str:
        """A signed token for `identity`, valid for `ttl` seconds."""
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": identity.id,
            "client_id": key_id,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl),
            "jti": secrets.token_hex(12),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> ServiceClaims:
        """The claims of a token the hub signed; raises AuthenticationFailed."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "client_id"]},
            )
        except jwt.PyJWTError as err:
            raise AuthenticationFailed(
                f"hub token refused: {type(err).__name__}"
            ) from err
        scope = claims.get("scope", "")
        return ServiceClaims(
            str(claims["sub"]), str(claims["client_id"]), tuple(str(scope).split())
        )


class OidcVerifier:
    """Checks people's tokens from one identity provider."""

    def __init__(self, *, issuer: str, audience: str, jwks: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._client: jwt.PyJWKClient | None = None
        self._keys: jwt.PyJWKSet | None = None
        if jwks.startswith("https://"):
            self._client = jwt.PyJWKClient(jwks, cache_keys=True, lifespan=300)
        else:
            self._keys = jwt.PyJWKSet.from_json(Path(jwks).read_text(encoding="utf-8"))

    def _signing_key(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        assert self._keys is not None
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._keys.keys:
            if key.key_id == kid:
                return key.key
        raise AuthenticationFailed("no JWKS key matches the token's kid")

    def verify(self, token: str) -> str:
        """The subject of a valid provider token; raises AuthenticationFailed."""
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=_PROVIDER_ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError) as err:
            raise AuthenticationFailed(
                f"identity provider token refused: {type(err).__name__}"
            ) from err
        return str(claims["sub"])


def token_issuer_name(token: str) -> str | None:
    """The unverified `iss` of a JWT, to choose who must verify it."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None
