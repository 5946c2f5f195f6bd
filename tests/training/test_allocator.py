"""tune_allocator: applied on glibc Linux, a harmless no-op elsewhere."""

from __future__ import annotations

import ctypes.util
import sys

from biovae.training import tune_allocator


def test_tune_allocator_applies_on_glibc_and_is_idempotent():
    glibc = sys.platform.startswith("linux") and "libc.so" in (ctypes.util.find_library("c") or "")
    assert tune_allocator() is glibc
    assert tune_allocator() is glibc


def test_tune_allocator_is_a_no_op_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert tune_allocator() is False
