"""Tests that load pages in a real headless browser (Chromium); skipped when none is installed."""
