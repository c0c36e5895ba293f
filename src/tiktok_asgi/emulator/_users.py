"""The accounts that can sign in at the emulator: realistic samples, or as many as needed."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

__all__ = ["EmulatorUser", "sample_users"]

# Fixed namespaces keep generated ids stable from run to run, so tests and fixtures can pin them.
_OPEN_NS = uuid.UUID("6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b")
_UNION_NS = uuid.UUID("0b9e8d7c-6a5f-4e3d-9c2b-1a0f9e8d7c6b")
_USERNAME = re.compile(r"^[A-Za-z0-9_.]{2,24}$")
_OPEN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_FIRST = (
    "Maya", "Leo", "Amara", "Jonas", "Priya", "Sam", "Yuki", "Omar", "Sofia", "Kwame",
    "Elena", "Mateo", "Aisha", "Lukas", "Nadia", "Diego", "Hana", "Theo", "Zara", "Ravi",
    "Ingrid", "Tariq", "Chloe", "Bao", "Lena", "Felix", "Imani", "Arjun", "Noor", "Emil",
)  # fmt: skip
_LAST = (
    "Chen", "Martins", "Okafor", "Weber", "Raman", "Rivera", "Tanaka", "Haddad", "Rossi",
    "Mensah", "Petrova", "Garcia", "Bello", "Schmidt", "Karimi", "Lopez", "Kim", "Dubois",
    "Ahmed", "Nair", "Larsen", "Aziz", "Moreau", "Nguyen", "Novak", "Fischer", "Diallo",
    "Patel", "Farah", "Berg",
)  # fmt: skip
_BIOS = (
    "Weeknight recipes in 60 seconds",
    "Skating, filming, falling, repeat",
    "Dancer. Choreo every Friday",
    "Building tiny houses out of old pallets",
    "One book a week, reviewed in a minute",
    "Acoustic covers from my kitchen",
    "",
)


def _stable_id(namespace: uuid.UUID, name: str) -> str:
    return str(uuid.uuid5(namespace, name))


@dataclass(frozen=True, kw_only=True, slots=True)
class EmulatorUser:
    """A TikTok account as the emulator reports it through ``/v2/user/info/``.

    ``open_id`` and ``union_id`` default to stable ids derived from ``username``.
    """

    username: str
    display_name: str
    open_id: str = ""
    union_id: str = ""
    bio_description: str = ""
    is_verified: bool = False
    follower_count: int = 0
    following_count: int = 0
    likes_count: int = 0
    video_count: int = 0

    def __post_init__(self) -> None:
        if not _USERNAME.match(self.username):
            raise ValueError(
                f"username {self.username!r} must be 2-24 letters, digits, '_' or '.', "
                "like a TikTok handle without the '@'"
            )
        if not self.display_name.strip():
            raise ValueError("display_name must not be empty")
        if not self.open_id:
            object.__setattr__(self, "open_id", _stable_id(_OPEN_NS, self.username))
        if not self.union_id:
            object.__setattr__(self, "union_id", _stable_id(_UNION_NS, self.username))
        if not _OPEN_ID.match(self.open_id):
            raise ValueError(f"open_id {self.open_id!r} must be 1-64 letters, digits, '_' or '-'")
        for name in ("follower_count", "following_count", "likes_count", "video_count"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    @property
    def initials(self) -> str:
        """Up to two initials, shown on the generated avatar."""
        words = [w for w in re.split(r"[\s._-]+", self.display_name) if w]
        return "".join(w[0] for w in words[:2]).upper() or self.username[:1].upper()

    @classmethod
    def generate(cls, n: int, *, prefix: str = "") -> tuple[EmulatorUser, ...]:
        """``n`` distinct users with unique ids, names and handles (same result every call)."""
        if n < 0:
            raise ValueError("n must not be negative")
        users = []
        for i in range(n):
            first = _FIRST[i % len(_FIRST)]
            last = _LAST[(i // len(_FIRST) + i) % len(_LAST)]
            handle = f"{prefix}{first}.{last}{i}".lower()[:24]
            users.append(
                cls(
                    username=handle,
                    display_name=f"{first} {last} {i}",
                    bio_description=_BIOS[i % len(_BIOS)],
                    is_verified=i % 17 == 0,
                    follower_count=(i * 7919) % 250_000,
                    following_count=(i * 104_729) % 1_500,
                    likes_count=(i * 15_485_863) % 4_000_000,
                    video_count=(i * 31) % 120,
                )
            )
        if len({u.username for u in users}) != n:
            raise ValueError("prefix too long: generated usernames collide at 24 characters")
        return tuple(users)


def sample_users() -> tuple[EmulatorUser, ...]:
    """The default accounts: a varied handful, so pickers and profiles look real."""
    return (
        EmulatorUser(
            username="mayacooks",
            display_name="Maya Chen",
            bio_description="Weeknight recipes in 60 seconds",
            is_verified=True,
            follower_count=1_284_310,
            following_count=212,
            likes_count=48_902_117,
            video_count=412,
        ),
        EmulatorUser(
            username="leo.skates",
            display_name="Leo Martins",
            bio_description="Skating, filming, falling, repeat",
            follower_count=38_204,
            following_count=611,
            likes_count=902_448,
            video_count=87,
        ),
        EmulatorUser(
            username="amara_dances",
            display_name="Amara Okafor",
            bio_description="Dancer. Choreo every Friday",
            is_verified=True,
            follower_count=642_090,
            following_count=154,
            likes_count=12_404_551,
            video_count=233,
        ),
        EmulatorUser(
            username="jonasbuilds",
            display_name="Jonas Weber",
            bio_description="Building tiny houses out of old pallets",
            follower_count=9_871,
            following_count=340,
            likes_count=120_337,
            video_count=41,
        ),
        EmulatorUser(
            username="priya.reads",
            display_name="Priya Raman",
            bio_description="One book a week, reviewed in a minute",
            follower_count=2_410,
            following_count=98,
            likes_count=31_005,
            video_count=19,
        ),
        EmulatorUser(
            username="newbie_2024",
            display_name="Sam",
            follower_count=0,
            following_count=3,
            likes_count=0,
            video_count=0,
        ),
    )
