"""Mode Advisor: helps cross-border sellers choose TikTok Shop's full- or semi-managed mode."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("zh", "en")
