"""Tests of radcurate.export."""
