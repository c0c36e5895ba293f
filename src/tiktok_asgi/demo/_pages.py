"""The demo's HTML: one page, signed out (a sign-in button) or signed in (a profile card).

Plain HTML with inline CSS: no script, no external asset. Every value from TikTok is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from urllib.parse import urlencode

from tiktok_asgi.emulator import EmulatorUser
from tiktok_asgi.user import TikTokUser

__all__ = ["FAVICON_SVG", "compact_count", "home_page"]

FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
    '<rect x="4" y="4" width="22" height="22" rx="6" fill="#25f4ee"/>'
    '<rect x="8" y="8" width="22" height="22" rx="6" fill="#fe2c55"/>'
    '<rect x="6" y="6" width="22" height="22" rx="6" fill="#161823"/></svg>'
)

SCOPE_LABELS = {
    "user.info.basic": "avatar and display name",
    "user.info.profile": "username, bio, verified badge",
    "user.info.stats": "followers, following, likes, videos",
    "video.list": "public videos",
}

# Colours meet WCAG 2.1 AA contrast (4.5:1 for text): TikTok's red is darkened to #e0143f
# behind white text, and grey text on white is no lighter than #73747b.
CSS = """
*{box-sizing:border-box}
html{color-scheme:dark}
body{margin:0;min-height:100vh;color:#f1f1f2;
 font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 background:radial-gradient(520px 380px at 12% 8%,#25f4ee2e,transparent 70%),
  radial-gradient(560px 420px at 92% 96%,#fe2c5533,transparent 70%),#0f0f14}
.wrap{width:min(460px,calc(100vw - 32px));margin:0 auto;padding:36px 0 28px}
.top{display:flex;align-items:center;gap:10px;font-weight:700;font-size:17px;margin-bottom:22px}
.mark{flex:none;display:inline-block;width:20px;height:20px;border-radius:6px;background:#fff;
 box-shadow:-2px -2px 0 #25f4ee,2px 2px 0 #fe2c55}
.tag{font-size:11px;font-weight:700;letter-spacing:.08em;text-transform:uppercase;color:#0f0f14;
 background:#25f4ee;border-radius:999px;padding:2px 8px}
.card{background:#fff;color:#161823;border-radius:20px;overflow:hidden;
 box-shadow:0 18px 50px #0000008c}
.inner{padding:26px 28px 26px}
h1{font-size:24px;line-height:1.2;margin:0 0 8px}
h2{font-size:12px;letter-spacing:.06em;text-transform:uppercase;color:#73747b;margin:0 0 8px}
p{margin:0 0 14px}
.lead{color:#57585f}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f1f2;
 color:#161823;border-radius:5px;padding:1px 5px}
.btn{display:flex;align-items:center;justify-content:center;gap:10px;width:100%;
 font:inherit;font-weight:700;font-size:16px;text-decoration:none;border-radius:10px;
 padding:13px 18px;cursor:pointer;border:1px solid transparent}
.primary{background:#e0143f;color:#fff;box-shadow:0 6px 18px #e0143f59}
.primary:hover{background:#c8103e}
.primary .mark{background:#161823}
.ghost{background:#fff;color:#161823;border-color:#e3e3e4}
.ghost:hover{border-color:#c8103e;color:#c8103e}
.tv{margin-top:10px}
.note .tvnote{margin:12px 0 0}
.card a:not(.btn){color:#c8103e;font-weight:600}
.chips{display:flex;flex-wrap:wrap;gap:6px;list-style:none;padding:0;margin:0 0 18px}
.chip{font-size:12.5px;border-radius:999px;padding:3px 10px;border:1px solid #e3e3e4;
 color:#57585f}
.chip.on{border-color:#fe2c5566;background:#fff0f3;color:#c8103e}
.chip.off{text-decoration:line-through;color:#73747b}
.banner{height:92px;background:linear-gradient(115deg,#25f4ee 0%,#7b8cff 45%,#fe2c55 100%)}
.profile .inner{padding-top:0;text-align:center}
.avatar{width:104px;height:104px;border-radius:50%;border:5px solid #fff;margin-top:-52px;
 background:#f1f1f2;box-shadow:0 4px 14px #0000002e;display:block;margin-left:auto;
 margin-right:auto}
.name{margin:10px 0 2px;display:flex;align-items:center;justify-content:center;gap:7px}
.verified{display:inline-flex;align-items:center;justify-content:center;width:20px;height:20px;
 border-radius:50%;background:#20d5ec;color:#fff;font-size:12px;font-weight:800}
.handle{color:#73747b;font-weight:600;margin:0 0 8px}
.bio{color:#3a3b41;margin:0 0 16px}
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:6px;list-style:none;padding:14px 0;
 margin:8px 0 0;border-top:1px solid #efeff0;border-bottom:1px solid #efeff0}
.stats b{display:block;font-size:19px}
.stats span{font-size:12px;color:#73747b}
.scopes{text-align:left;margin-top:18px}
.muted{color:#73747b;font-size:13px}
.note{margin-top:18px;padding:18px 20px;border-radius:16px;background:#ffffff0f;
 border:1px solid #ffffff1f;color:#c9c9ce;font-size:14px}
.note h2{color:#25f4ee;display:flex;align-items:center;gap:8px}
.note code{background:#ffffff1a;color:#f1f1f2}
.note p{margin-bottom:10px}
.people{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:1fr 1fr;gap:8px}
.people li{display:flex;align-items:center;gap:9px;font-size:13px;color:#f1f1f2;min-width:0}
.people img{width:28px;height:28px;border-radius:50%;flex:none}
.people small{display:block;color:#a3a4aa;overflow:hidden;text-overflow:ellipsis}
footer{margin-top:18px;text-align:center;font-size:12px;color:#8a8b91}
"""


def compact_count(value: int) -> str:
    """TikTok's way of showing counts: 212, 38.2K, 1.3M."""
    if value < 1000:
        return str(value)
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1000, "K")):
        if value * 20_000 >= size * 19_999:  # would show as 1000.0 of the next smaller unit
            text = f"{value / size:.1f}".removesuffix(".0")
            return f"{text}{suffix}"
    return str(value)  # pragma: no cover - the loop always returns for value >= 1000


def _layout(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<style>{CSS}</style></head><body><main class="wrap">'
        '<header class="top"><span class="mark"></span>tiktok-asgi<span class="tag">demo</span>'
        f"</header>{body}"
        "<footer>Sign in with TikTok for any ASGI app &middot; tiktok-asgi</footer>"
        "</main></body></html>"
    )


def _scope_chips(requested: Sequence[str], granted: Sequence[str] | None) -> str:
    items = []
    for scope in dict.fromkeys([*requested, *(granted or ())]):
        label = escape(SCOPE_LABELS.get(scope, scope))
        if granted is None:
            items.append(f'<li class="chip" title="{label}">{escape(scope)}</li>')
        elif scope in granted:
            items.append(f'<li class="chip on" title="{label}">{escape(scope)}</li>')
        else:
            items.append(f'<li class="chip off" title="not granted: {label}">{escape(scope)}</li>')
    return f'<ul class="chips">{"".join(items)}</ul>'


def _stats(user: TikTokUser) -> str:
    counts = (
        ("Followers", user.follower_count),
        ("Following", user.following_count),
        ("Likes", user.likes_count),
        ("Videos", user.video_count),
    )
    items = "".join(
        f'<li title="{value:,} {label.lower()}"><b>{compact_count(value)}</b>'
        f"<span>{label}</span></li>"
        for label, value in counts
        if value is not None
    )
    return f'<ul class="stats">{items}</ul>' if items else ""


def _signed_in(
    user: TikTokUser,
    requested: Sequence[str],
    logout_path: str,
    everywhere_path: str | None,
    apps_url: str | None,
    disconnect_path: str | None = None,
) -> str:
    avatar = user.avatar_large_url or user.avatar_url or user.avatar_url_100
    image = (
        f'<img class="avatar" src="{escape(avatar)}" alt="" width="104" height="104">'
        if avatar
        else ""
    )
    badge = (
        '<span class="verified" title="Verified account" aria-label="verified">&#10003;</span>'
        if user.is_verified
        else ""
    )
    handle = f'<p class="handle">@{escape(user.username)}</p>' if user.username else ""
    bio = f'<p class="bio">{escape(user.bio_description)}</p>' if user.bio_description else ""
    name = escape(user.display_name or "TikTok user")
    everywhere = (
        f'<form method="post" action="{escape(everywhere_path)}">'
        '<button class="btn ghost" type="submit">Sign out everywhere</button></form>'
        if everywhere_path
        else ""
    )
    # Signing out leaves the app connected at TikTok; disconnecting revokes its access.
    disconnect = (
        f'<form method="post" action="{escape(disconnect_path)}">'
        '<button class="btn ghost" type="submit">Disconnect TikTok</button></form>'
        if disconnect_path
        else ""
    )
    remove = (
        f'<p><a href="{escape(apps_url)}">Remove this app at TikTok</a></p>' if apps_url else ""
    )
    return (
        '<section class="card profile"><div class="banner"></div><div class="inner">'
        f'{image}<h1 class="name">{name}{badge}</h1>{handle}{bio}'
        f"{_stats(user)}"
        f'<div class="scopes"><h2>Granted scopes</h2>{_scope_chips(requested, user.granted_scopes)}'
        "</div>"
        f'<form method="post" action="{escape(logout_path)}">'
        '<button class="btn ghost" type="submit">Sign out</button></form>'
        f"{everywhere}{disconnect}{remove}"
        "</div></section>"
    )


def _signed_out(requested: Sequence[str], login_path: str, qr_path: str | None = None) -> str:
    tv = (
        f'<a class="btn ghost tv" href="{escape(qr_path)}">Sign in on a TV</a>'
        if qr_path is not None
        else ""
    )
    return (
        '<section class="card"><div class="inner">'
        "<h1>See what your app learns from TikTok</h1>"
        '<p class="lead">This page is a small ASGI app wrapped in '
        "<code>TikTokAuthMiddleware</code>. Sign in and it shows the profile TikTok shares "
        "with it: only what you agree to.</p>"
        f"<h2>This app asks for</h2>{_scope_chips(requested, None)}"
        f'<a class="btn primary" href="{escape(login_path)}"><span class="mark"></span>'
        f"Sign in with TikTok</a>{tv}"
        "</div></section>"
    )


def _emulator_note(
    mount: str,
    users: Sequence[EmulatorUser],
    avatar: Callable[[EmulatorUser], str] | None,
    qr_path: str | None = None,
) -> str:
    def src(user: EmulatorUser) -> str:
        # The emulator's avatar URLs are signed and expire, as TikTok's are.
        return avatar(user) if avatar else f"{mount}/avatars/{user.open_id}.svg?size=56"

    people = "".join(
        f'<li><img src="{escape(src(u))}" alt="">'
        f"<span>{escape(u.display_name)}<small>@{escape(u.username)}</small></span></li>"
        for u in users
    )
    return (
        '<aside class="note"><h2><span class="mark"></span>Emulated TikTok</h2>'
        "<p>Nothing leaves this machine: the consent page, token and user-info endpoints are "
        f"answered by the TikTok emulator mounted at <code>{escape(mount)}</code>. On the "
        "consent page, pick one of these accounts and untick what you would rather not "
        f'share.</p><ul class="people">{people}</ul>{_tv_note(qr_path)}</aside>'
    )


def _tv_note(qr_path: str | None) -> str:
    """How to play both screens of a TV sign-in on one computer."""
    if qr_path is None:
        return ""
    return (
        '<p class="tvnote"><b>Sign in on a TV</b> shows a QR code, as a TV or a kiosk would. '
        "Your phone is another window or browser: open the link under the code there, pick an "
        "account and confirm; the TV page then signs in on its own.</p>"
    )


def _real_note(redirect_uri: str) -> str:
    return (
        '<aside class="note"><h2><span class="mark"></span>Real TikTok</h2>'
        "<p>Signing in through your TikTok app; TikTok sends you back to "
        f"<code>{escape(redirect_uri)}</code>.</p></aside>"
    )


def home_page(
    *,
    user: TikTokUser | None,
    requested: Sequence[str],
    login_path: str,
    logout_path: str,
    redirect_uri: str,
    emulator_mount: str | None,
    emulator_users: Sequence[EmulatorUser] = (),
    emulator_avatar: Callable[[EmulatorUser], str] | None = None,
    everywhere_path: str | None = None,
    qr_path: str | None = None,
    disconnect_path: str | None = None,
) -> str:
    """The whole page; ``emulator_mount`` is None when signing in with the real TikTok;
    ``qr_path`` offers the QR-code sign-in of TVs and devices."""
    if user is None:
        card = _signed_out(requested, login_path, qr_path)
        title = "Sign in with TikTok · tiktok-asgi demo"
    else:
        apps = (
            f"{emulator_mount}/apps?{urlencode({'user': user.open_id})}"
            if emulator_mount is not None
            else None
        )
        card = _signed_in(user, requested, logout_path, everywhere_path, apps, disconnect_path)
        title = f"{user.display_name or 'Signed in'} · tiktok-asgi demo"
    note = (
        _real_note(redirect_uri)
        if emulator_mount is None
        else _emulator_note(emulator_mount, emulator_users, emulator_avatar, qr_path)
    )
    return _layout(title, card + note)
