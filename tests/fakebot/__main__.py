"""Run the fake as a process: ``python -m tests.fakebot --port 8081`` (serves until SIGTERM)."""

from __future__ import annotations

import argparse
import asyncio
import signal

from .server import DEFAULT_TOKEN, FakeTelegram


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fakebot", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--bot-username", default="ModeAdvisorBot")
    parser.add_argument("--bot-name", default="Mode Advisor")
    parser.add_argument("--flood", action="store_true", help="enforce Telegram-like flood limits")
    parser.add_argument("--markdown", choices=("reject", "accept"), default="reject")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Start the fake, print ``READY <base_url>``, wait for SIGTERM/SIGINT."""
    fake = FakeTelegram(args.token, host=args.host, port=args.port, bot_username=args.bot_username,
                        bot_name=args.bot_name, flood_limits=args.flood, markdown=args.markdown)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await fake.start()
    print(f"READY {fake.base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
