"""Settings from the environment and an optional .env file (the environment wins)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bot import ROOT


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored; surrounding quotes stripped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@dataclass(frozen=True)
class Settings:
    token: str = ""
    database_url: str = "sqlite:///data/bot.sqlite3"
    api_base_url: str = ""                 # e.g. http://127.0.0.1:8081 for a self-hosted Bot API server
    webhook_url: str = ""                  # public https URL; when set the bot runs a webhook server
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str = ""
    flood_limit: bool = True
    admin_user_ids: frozenset[int] = field(default_factory=frozenset)
    default_lang: str = "en"
    log_level: str = "INFO"
    log_format: str = "plain"              # or "json": one object per line, for log collectors
    poll_timeout: int = 10
    database_pool_size: int = 10           # PostgreSQL connections per process (plus one for its locks)
    webhook_max_connections: int = 40      # setWebhook's max_connections: updates Telegram sends at once
    health_port: int = 0                   # polling mode: serve /healthz, /readyz, /metrics here (0: off)
    health_listen: str = "127.0.0.1"
    review_retention_days: float = 90.0    # review items older than this are deleted (0: kept for ever)
    card_workers: int = 1                  # processes drawing picture cards (bot.cards.worker), at least 1
    telegram_http: str = "fast"            # Bot API client: "fast" (bot.tg.transport) or "httpx" (PTB's HTTPXRequest)
    telegram_proxy: str = ""               # http://, https:// or socks5:// proxy for the Bot API (forces httpx)
    telegram_ca_file: str = ""             # PEM file of CAs the Bot API's certificate is checked against (empty: system)

    @classmethod
    def load(cls, env: dict[str, str] | None = None, env_file: Path | None = ROOT / ".env") -> "Settings":
        values = read_env_file(env_file) if env_file else {}
        values.update(os.environ if env is None else env)
        get = lambda key, default="": values.get(key, default).strip()  # noqa: E731
        admins = frozenset(int(x) for x in get("ADMIN_USER_IDS").replace(";", ",").split(",")
                           if x.strip().lstrip("-").isdigit())
        db = get("DATABASE_URL", cls.database_url)
        if db.startswith("sqlite:///") and not db.startswith("sqlite:////") and db != "sqlite:///":
            db = "sqlite:///" + str(ROOT / db[len("sqlite:///"):])   # relative paths are relative to the project
        return cls(
            token=get("TELEGRAM_BOT_TOKEN"), database_url=db,
            api_base_url=get("TELEGRAM_API_BASE_URL").rstrip("/"),
            webhook_url=get("WEBHOOK_URL"), webhook_listen=get("WEBHOOK_LISTEN", "127.0.0.1"),
            webhook_port=int(get("WEBHOOK_PORT", "8443") or 8443), webhook_secret=get("WEBHOOK_SECRET"),
            flood_limit=get("TELEGRAM_FLOOD_LIMIT", "on").lower() not in ("off", "0", "false", "no"),
            admin_user_ids=admins, default_lang="zh" if get("DEFAULT_LANG", "en") == "zh" else "en",
            log_level=get("LOG_LEVEL", "INFO").upper() or "INFO",
            log_format="json" if get("LOG_FORMAT", "plain").lower() == "json" else "plain",
            poll_timeout=int(get("POLL_TIMEOUT", "10") or 10),
            database_pool_size=int(get("DATABASE_POOL_SIZE", "10") or 10),
            webhook_max_connections=int(get("WEBHOOK_MAX_CONNECTIONS", "40") or 40),
            health_port=int(get("HEALTH_PORT", "0") or 0), health_listen=get("HEALTH_LISTEN", "127.0.0.1"),
            review_retention_days=float(get("REVIEW_RETENTION_DAYS", "90") or 90),
            card_workers=max(1, int(get("CARD_WORKERS", "1") or 1)),
            telegram_http=_choice(get("TELEGRAM_HTTP", "fast").lower() or "fast", "TELEGRAM_HTTP", ("fast", "httpx")),
            telegram_proxy=get("TELEGRAM_PROXY"), telegram_ca_file=get("TELEGRAM_CA_FILE"))


def _choice(value: str, key: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{key}={value!r}: use one of {', '.join(allowed)}")
    return value
