"""A thread-safe LRU cache bounded by bytes, for generated task data (tasks vary from 40 points to 200k)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class ByteLRU:
    """A thread-safe LRU bounded by array bytes: tasks vary from 40 points to 200k."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self.lock:
            hit = self.items.get(key)
            if hit is None:
                return None
            self.items.move_to_end(key)
            return hit[0]

    def put(self, key: str, value: Any, size: int) -> None:
        """Keep ``value`` (``size`` bytes) unless it alone would take over a quarter of the budget."""
        if size > self.budget // 4:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = (value, size)
            self.used += size
            while self.used > self.budget:
                _, (_, old) = self.items.popitem(last=False)
                self.used -= old

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.used = 0
