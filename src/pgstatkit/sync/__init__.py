"""The blocking API: ``from pgstatkit.sync import stats``."""

from __future__ import annotations

from pgstatkit.sync import stats

__all__ = ["stats"]
