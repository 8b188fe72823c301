"""Admin commands (ADMIN_USER_IDS only): /stats, /export, /post <channel> (and /review: bot/tg/review.py).
Everyone else gets the same reply as for an unknown command, so the commands do not even show they exist."""
from __future__ import annotations

import csv
import io
import re

from telegram import InputFile, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.store.base import EXPORT_TABLES
from bot.tg.handlers import Ctx, Handlers

CHANNEL = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-100\d{5,15})$")


class AdminHandlers:
    def __init__(self, h: Handlers):
        self.h = h

    def allowed(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.h.settings.admin_user_ids

    async def stats(self, update: Update, ctx: Ctx) -> None:
        """Usage figures, sharing, sources and the latest unanswered questions."""
        if not self.allowed(update):
            await self.h.unknown_command(update, ctx)
            return
        h, lang = self.h, await self.h.lang(update)
        esc = h.r.m.esc
        s = await h.store.stats()
        lines = [f"<b>{h.r.t('stats.title', lang)}</b>",
                 h.r.t("stats.body", lang, users=s["users"], active=s["active_users"],
                       started=s["quizzes_started"], completed=s["quizzes_completed"],
                       full=s["results_by_mode"].get("full", 0), semi=s["results_by_mode"].get("semi", 0),
                       borderline=s["results_borderline"]),
                 h.r.t("stats.sharing", lang, shares=s["shares"], inline=s["inline_queries"],
                       chosen=s["inline_chosen"], groups=s["groups"]),
                 "", h.r.t("stats.sources", lang)]
        lines += [f"• {esc(str(src))}: {n}" for src, n in s["deeplinks"]] or [h.r.t("stats.none", lang)]
        lines += ["", h.r.t("stats.top_faq", lang)]
        lines += [f"• {esc(str(e))}: {n}" for e, n in s["top_faq"]] or [h.r.t("stats.none", lang)]
        lines += ["", h.r.t("stats.review", lang, waiting=s.get("review_waiting", 0))]
        lines += ["", h.r.t("stats.unanswered", lang)]
        lines += [f"• [{esc(str(lg))}] {esc(t[:200])}" for _, lg, t, _ in s["unanswered"]] or [h.r.t("stats.none", lang)]
        await h.send(ctx, update.effective_chat.id, "\n".join(lines))

    async def export(self, update: Update, ctx: Ctx) -> None:
        """The same data as CSV files, one per table."""
        if not self.allowed(update):
            await self.h.unknown_command(update, ctx)
            return
        lang = await self.h.lang(update)
        for table in EXPORT_TABLES:
            columns, rows = await self.h.store.export_rows(table)
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(columns)
            writer.writerows(rows)
            await ctx.bot.send_document(update.effective_chat.id,
                                        InputFile(io.BytesIO(buf.getvalue().encode("utf-8")), filename=f"{table}.csv"),
                                        caption=self.h.r.raw("export.caption", lang, table=table))

    async def post(self, update: Update, ctx: Ctx) -> None:
        """Publish the comparison card, with a deep-link button, into a channel where the bot is admin: its
        picture with a short caption, or (no font for the language) its text."""
        if not self.allowed(update):
            await self.h.unknown_command(update, ctx)
            return
        h, lang, chat_id = self.h, await self.h.lang(update), update.effective_chat.id
        target = ctx.args[0] if ctx.args and len(ctx.args) == 1 else ""
        if not CHANNEL.match(target):
            await h.send(ctx, chat_id, h.r.t("admin.post_usage", lang))
            return
        channel = int(target) if target.lstrip("-").isdigit() else target
        markup = h.kb.take_the_test(lang, h.link(ctx, "src_channel"))
        picture = h.photos.compare(lang, ctx.bot.username)
        try:
            if picture is not None:
                await h.photos.send(ctx.bot, channel, picture, h.r.compare_caption(lang, shared=True), markup)
            else:
                await ctx.bot.send_message(channel, h.r.compare_card(lang), parse_mode=ParseMode.HTML,
                                           reply_markup=markup)
        except Forbidden:
            await h.send(ctx, chat_id, h.r.t("admin.post_not_admin", lang, channel=target))
            return
        except BadRequest as exc:
            key = "admin.post_not_found" if "not found" in str(exc).lower() else "admin.post_not_admin" \
                if "rights" in str(exc).lower() or "admin" in str(exc).lower() else None
            await h.send(ctx, chat_id, h.r.t(key, lang, channel=target) if key else
                         h.r.t("admin.post_failed", lang, channel=target, reason=str(exc)))
            return
        except TelegramError as exc:
            await h.send(ctx, chat_id, h.r.t("admin.post_failed", lang, channel=target, reason=str(exc)))
            return
        await h.store.record("channel_post", str(update.effective_user.id), str(target))
        await h.send(ctx, chat_id, h.r.t("admin.post_done", lang, channel=target))
