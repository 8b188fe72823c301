"""Fonts for picture cards: a CJK font for Chinese cards, a good sans-serif for English ones.

Nothing is downloaded. A font comes from the CARD_FONT setting, from the usual install paths of
Debian/Ubuntu and macOS fonts, or from fontconfig. Without a CJK font Chinese cards are not drawn
(the caller sends its text result instead); English cards always have a font, because Pillow
(10.1+) bundles a scalable Latin one to fall back on.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot import ROOT
from bot.config import read_env_file

log = logging.getLogger(__name__)

SETTING = "CARD_FONT"
OFF = ("off", "none", "0", "false", "no")
#: What Debian/Ubuntu users install to get Chinese cards (the README says the same).
CJK_PACKAGES = "fonts-noto-cjk (or the smaller fonts-wqy-microhei)"

# (regular, bold) files, best first. A .ttc holds several faces; the Simplified Chinese one is picked.
CJK_FILES: tuple[tuple[str, str | None], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/truetype/noto/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", None),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", None),
    ("/System/Library/Fonts/PingFang.ttc", "/System/Library/Fonts/PingFang.ttc"),
    ("/System/Library/Fonts/Hiragino Sans GB.ttc", "/System/Library/Fonts/Hiragino Sans GB.ttc"),
    ("/System/Library/Fonts/STHeiti Light.ttc", "/System/Library/Fonts/STHeiti Medium.ttc"),
    ("/System/Library/Fonts/STHeiti Medium.ttc", None),
    ("/System/Library/Fonts/Supplemental/Arial Unicode.ttf", None),
    ("/Library/Fonts/Arial Unicode.ttf", None),
)
LATIN_FILES: tuple[tuple[str, str | None], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
    ("/System/Library/Fonts/Helvetica.ttc", "/System/Library/Fonts/Helvetica.ttc"),
    ("/System/Library/Fonts/Supplemental/Arial.ttf", "/System/Library/Fonts/Supplemental/Arial Bold.ttf"),
    ("/Library/Fonts/Arial.ttf", "/Library/Fonts/Arial Bold.ttf"),
)
CJK_PROBE = "全托管半托管推荐"   # characters every Chinese card draws
LATIN_PROBE = "Recommendation"
_BOLD_STYLES = ("bold", "semibold", "w6", "medium", "heavy", "black")
_REGULAR_STYLES = ("regular", "book", "w3", "normal", "roman")
_PREFERRED_CJK = (" sc", "gb", "micro hei", "zen hei", "sc ", "simplified", "heiti")
_MAX_FACES = 16
FAKE_BOLD_MIN = 24       # px: below this, a font without a bold face draws "bold" text regular


@dataclass(frozen=True)
class Face:
    """One face of a font file; ``path=None`` is the scalable font bundled with Pillow."""

    path: str | None
    index: int = 0
    family: str = ""
    style: str = ""

    def load(self, size: int) -> ImageFont.FreeTypeFont:
        if self.path is None:
            font = ImageFont.load_default(size=size)
            if not isinstance(font, ImageFont.FreeTypeFont):   # Pillow built without FreeType
                raise OSError("Pillow has no scalable default font")
            return font
        return ImageFont.truetype(self.path, size, index=self.index, layout_engine=ImageFont.Layout.BASIC)

    def describe(self) -> str:
        where = self.path or "Pillow's bundled font"
        return f"{self.family} {self.style} ({where}#{self.index})".strip()


@dataclass(frozen=True)
class FontChoice:
    regular: Face
    bold: Face | None   # None: bold is drawn with a thin stroke


class FontSet:
    """The faces chosen per language, with loaded fonts cached by size."""

    def __init__(self, choices: dict[str, FontChoice | None], reasons: dict[str, str] | None = None):
        self.choices = dict(choices)
        self.reasons = dict(reasons or {})   # why a language has no font, for the log
        self._loaded: dict[tuple[Face, int], ImageFont.FreeTypeFont] = {}

    def supports(self, lang: str) -> bool:
        return self.choices.get(lang) is not None

    def font(self, lang: str, size: int, bold: bool = False) -> tuple[ImageFont.FreeTypeFont, int]:
        """The font for `lang` at `size` px, and the stroke width that fakes bold (0 with a real bold face)."""
        choice = self.choices[lang]
        if choice is None:
            raise LookupError(f"no card font for {lang!r}")
        face = choice.bold if bold and choice.bold else choice.regular
        key = (face, size)
        font = self._loaded.get(key)
        if font is None:
            font = self._loaded[key] = face.load(size)
        # a stroke thickens large text well enough; on small text it smudges, so small "bold" stays regular
        return font, (max(1, size // 30) if bold and choice.bold is None and size >= FAKE_BOLD_MIN else 0)

    def describe(self) -> dict[str, str]:
        return {lang: (f"{c.regular.describe()}" + (f", bold {c.bold.describe()}" if c.bold else ", bold drawn")
                       if c else f"none: {self.reasons.get(lang, 'not found')}")
                for lang, c in self.choices.items()}


def card_font_setting(env: dict[str, str] | None = None, env_file: Path | None = ROOT / ".env") -> str:
    """CARD_FONT from the environment or .env (the environment wins), like bot.config.Settings."""
    values = read_env_file(env_file) if env_file else {}
    values.update(os.environ if env is None else env)
    return values.get(SETTING, "").strip()


def _faces(path: str) -> list[Face]:
    """Every face of a font file (a .ttc holds several); [] when it cannot be read."""
    if not os.path.isfile(path):
        return []
    out = []
    for index in range(_MAX_FACES):
        try:
            family, style = ImageFont.truetype(path, 12, index=index).getname()
        except OSError:
            break
        out.append(Face(path, index, family or "", style or ""))
    return out


def _render(font: ImageFont.FreeTypeFont, text: str) -> bytes:
    image = Image.new("L", (32 * (len(text) + 1), 48))
    ImageDraw.Draw(image).text((4, 4), text, font=font, fill=255)
    return image.tobytes()


def draws(face: Face, text: str) -> bool:
    """Whether `face` has real glyphs for every character of `text` (no .notdef boxes)."""
    try:
        font = face.load(24)
    except OSError:
        return False
    tofu = _render(font, "\U000F0000")          # a private-use character no font has: its box
    return all(ch.isspace() or _render(font, ch) != tofu for ch in text)


def _rank(face: Face) -> tuple[int, int]:
    """Lower is better: Simplified-Chinese families first, monospaced last; regular styles first."""
    family, style = face.family.lower(), face.style.lower()
    family_rank = 2 if "mono" in family else 0 if any(p in f" {family} " for p in _PREFERRED_CJK) else 1
    style_rank = 0 if style in _REGULAR_STYLES else 1 if style in ("light", "medium") else 2
    return family_rank, style_rank


def _bold_of(regular: Face, bold_path: str | None) -> Face | None:
    """A bold face of the same family, from `bold_path` (which may be the same .ttc)."""
    if not bold_path:
        return None
    family = regular.family.lower()
    for face in _faces(bold_path):
        style = face.style.lower()
        if face.family.lower() == family and any(s in style for s in _BOLD_STYLES) and face != regular:
            return face
    return None


def _pick(files: tuple[tuple[str, str | None], ...], probe: str, extra: list[Face]) -> FontChoice | None:
    for regular_path, bold_path in files:
        faces = sorted(_faces(regular_path), key=_rank)
        for face in faces:
            if draws(face, probe):
                return FontChoice(face, _bold_of(face, bold_path))
    for face in sorted(extra, key=_rank):
        if draws(face, probe):
            return FontChoice(face, None)
    return None


def _fontconfig(pattern: str) -> list[Face]:
    """Faces fontconfig lists for `pattern` (e.g. ':lang=zh-cn'); [] without fontconfig."""
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(["fc-list", pattern, "-f", "%{file}|%{index}|%{family[0]}|%{style[0]}\n"],
                             capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    faces = []
    for line in sorted(set(out.splitlines())):
        parts = line.split("|")
        if len(parts) == 4 and parts[1].isdigit() and parts[0].lower().endswith((".ttf", ".ttc", ".otf", ".otc")):
            faces.append(Face(parts[0], int(parts[1]), parts[2], parts[3]))
    return faces


def _from_setting(path: str) -> list[Face]:
    faces = sorted(_faces(path), key=_rank)
    if not faces:
        log.warning("%s=%s is not a readable font file; looking for fonts on the system", SETTING, path)
    return faces


@lru_cache(maxsize=8)
def find_fonts(setting: str = "", *, cjk_files: tuple[tuple[str, str | None], ...] = CJK_FILES,
               latin_files: tuple[tuple[str, str | None], ...] = LATIN_FILES,
               fontconfig: bool = True, builtin: bool = True) -> FontSet:
    """Choose the card fonts once per process. `setting` is CARD_FONT: a font file, or "off".

    The keyword arguments exist for tests (e.g. no candidate files, no fontconfig: no CJK font).
    """
    if setting.lower() in OFF:
        reason = f"{SETTING}={setting}"
        return FontSet({"zh": None, "en": None}, {"zh": reason, "en": reason})
    chosen = _from_setting(setting) if setting else []
    zh = next((FontChoice(f, _bold_of(f, setting)) for f in chosen if draws(f, CJK_PROBE)), None)
    en = next((FontChoice(f, _bold_of(f, setting)) for f in chosen if draws(f, LATIN_PROBE)), None)
    reasons = {}
    if zh is None:
        if chosen:
            log.warning("%s=%s has no Chinese glyphs; looking for a CJK font on the system", SETTING, setting)
        zh = _pick(cjk_files, CJK_PROBE, _fontconfig(":lang=zh-cn") if fontconfig else [])
        reasons["zh"] = "no CJK font found"
    if en is None:
        en = _pick(latin_files, LATIN_PROBE, [])
        if en is None and zh is not None:
            en = zh                                       # CJK fonts draw Latin letters too
        if en is None and fontconfig:
            en = _pick((), LATIN_PROBE, _fontconfig(":lang=en:spacing=proportional"))
        if en is None and builtin and draws(Face(None, 0, "Pillow", "default"), LATIN_PROBE):
            en = FontChoice(Face(None, 0, "Aileron", "Regular"), None)
        reasons["en"] = "no font found"
    return FontSet({"zh": zh, "en": en}, reasons)
