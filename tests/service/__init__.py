"""Tests of the `Billing` service on every store."""
