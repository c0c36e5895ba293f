"""Login sessions kept in a token store: one state machine, in one place.

With a ``token_store`` every sign-in starts a login session: a random id in the identity cookie,
the token response sealed in the store under that id (:mod:`.records`), and the id listed in its
user's index. Its life::

    signed in ──refresh──▶ refreshed ──refresh──▶ refreshed …
        │                      │
        └──────────┬───────────┘
                   ▼
                 ended   (sign-out, end_user_sessions, authorization.removed, a refresh TikTok
                          refused, disconnect, too many sessions of one user)

**Ended is final.** A session is alive exactly while its record is in the store. Every write
over an existing record (a refresh's rotated tokens, a re-read profile's longer life) is a
*replace*: written only while the record is still there, atomically (``SET … XX`` on Redis, a
check without an ``await`` in memory, an end marker checked around the write on other stores).
Records are created only under fresh random ids, so no late step can bring an ended session back.

**Fail closed, lose nothing.** A store call that fails is 503 ``token_store_unavailable``, never
a signed-in or signed-out answer. An end the store could not take is held in this process
(ended here at once) and written when the store is back; so is a rotated refresh token, which
TikTok will not accept twice. A request's store calls share one deadline.

The parts: :mod:`.storage` (the store's capabilities and the deadline), :mod:`.feed` (ends
pushed to every instance by a store that can), :mod:`.liveness` (is a session alive, answered
locally where it can be), :mod:`.tokens` (the moves),
:mod:`.profiles` (profiles re-read from TikTok), :mod:`.step` (the gate's verdict per request)
and :mod:`.sockets` (open WebSockets closed when their session ends).
"""

from .liveness import CACHE_SECONDS, LiveSessions
from .profiles import ProfileRefresher
from .records import TokenRecord
from .sockets import SocketFollower
from .step import ALIVE, ENDED, SessionStep, Verdict
from .tokens import MAX_SESSIONS_PER_USER, TokenManager

__all__ = [
    "ALIVE",
    "CACHE_SECONDS",
    "ENDED",
    "MAX_SESSIONS_PER_USER",
    "LiveSessions",
    "ProfileRefresher",
    "SessionStep",
    "SocketFollower",
    "TokenManager",
    "TokenRecord",
    "Verdict",
]
