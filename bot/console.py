"""The terminal chat: the same engine and store as the Telegram bot, numbered options instead of buttons."""
from __future__ import annotations

import asyncio

from typing import Callable

from bot.conversation import Conversations, with_hint
from bot.engine.dialogue import AdviceView, ConfirmView, ConflictView, QuestionView, Reply, ResultView
from bot.kb.lang import written_lang
from bot.render import PLAIN

Input = Callable[[str], str]
Output = Callable[[str], None]
CONSOLE_USER = "console"
QUIT = {"quit", "exit", "q", "退出", "/quit"}


class ConsoleChat:
    def __init__(self, conversations: Conversations, lang: str, write: Output = print):
        self.conv, self.lang, self.write = conversations, lang, write
        self.services = conversations.services
        self.render = self.services.renderer(PLAIN)
        self.key = f"{CONSOLE_USER}:{CONSOLE_USER}"
        self.choosing_change = False

    def show(self, reply: Reply, lang: str | None = None) -> None:
        lang = lang or self.lang
        for notice in reply.notices:
            self.write(self.render.notice(notice, lang))
        view = reply.view
        self.write(self.render.view(view, reply.lang or self.lang))
        if isinstance(view, QuestionView):
            self.write(self.render.numbered_options(view, self.lang))
            if not view.core:
                self.write(self.render.raw("console.optional_hint", self.lang))
        elif isinstance(view, ConfirmView):
            self.write(self.render.raw("console.confirm_hint", self.lang))
        elif isinstance(view, ConflictView):
            self.write(self.render.raw("console.conflict_hint", self.lang))
        elif isinstance(view, AdviceView):
            self.write(self.render.raw("console.advice_hint", self.lang))
        elif isinstance(view, ResultView):
            self.write(self.render.raw("console.result_hint", self.lang))

    async def act(self, action) -> None:
        _, reply = await self.conv.run(self.key, CONSOLE_USER, action)
        self.show(reply)

    async def start(self) -> None:
        self.write(self.render.raw("app.name", self.lang))
        self.write(self.render.raw("console.banner", self.lang))
        resumed = await self.conv.store.load_session(self.key) is not None
        if resumed:
            self.write(self.render.raw("start.resume", self.lang))
        else:
            self.write(self.render.raw("start.intro", self.lang))
            self.write(self.render.raw("start.describe_tip", self.lang))
        await self.act(lambda s: Reply(self.services.dialogue.view(s), changed=False))

    async def handle(self, line: str) -> bool:
        """One typed line; False when the user quits."""
        text = line.strip()
        lowered = text.lower()
        dialogue = self.services.dialogue
        if lowered in QUIT:
            self.write(self.render.raw("console.bye", self.lang))
            return False
        if not text:
            return True
        if self.choosing_change:
            self.choosing_change = False
            steps = self.services.flow.steps
            if text.isdigit() and 1 <= int(text) <= len(steps):
                await self.act(lambda s: dialogue.change(s, steps[int(text) - 1].id))
                return True
        if lowered in ("help", "/help", "帮助"):
            self.write(self.render.raw("help.text", self.lang))
        elif lowered in ("lang", "/lang", "语言"):
            self.lang = "en" if self.lang == "zh" else "zh"
            await self.conv.choose_lang(CONSOLE_USER, self.lang)
            self.write(self.render.raw("lang.set", self.lang))
            await self.act(lambda s: Reply(dialogue.view(s), changed=False))
        elif lowered in ("compare", "/compare", "对比"):
            self.write(self.render.compare(self.lang))
        elif lowered in ("change", "修改", "/change"):
            self.write(self.render.raw("result.change_prompt", self.lang))
            for i, step in enumerate(self.services.flow.steps, 1):
                self.write(f"{i}. {step.title(self.lang)}")
            self.choosing_change = True
        else:
            written = written_lang(text, self.services.kb.neutral_words)
            switch = await self.conv.follow_lang(CONSOLE_USER, self.lang, written)
            if switch is not None:
                self.lang = switch.lang         # the interface follows the language the seller writes in
            ask_lang = written or self.lang     # read in the language it is written in, else the interface's
            _, reply = await self.conv.run(self.key, CONSOLE_USER, lambda s: dialogue.text(s, text, ask_lang))
            self.show(with_hint(reply, switch))
        return True


def run_console(conversations: Conversations, lang: str | None = None, default_lang: str = "en",
                read: Input = input, write: Output = print) -> None:
    """The chat loop, in the language asked for, else the one used last time, else `default_lang`.

    Reading the terminal blocks the event loop, which has nothing else to do here."""
    asyncio.run(_loop(conversations, lang, default_lang, read, write))


async def _loop(conversations: Conversations, lang: str | None, default_lang: str, read: Input,
                write: Output) -> None:
    store = conversations.store
    try:
        known = await store.user(CONSOLE_USER)
        lang = lang or (known.lang if known and known.lang else None) or default_lang
        await store.touch_user(CONSOLE_USER, lang)
        chat = ConsoleChat(conversations, lang, write)
        await chat.start()
        while True:
            try:
                line = read(chat.render.raw("console.prompt", chat.lang))
            except (EOFError, KeyboardInterrupt):
                write("")
                write(chat.render.raw("console.bye", chat.lang))
                return
            if not await chat.handle(line):
                return
    finally:
        await store.close()
