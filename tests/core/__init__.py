"""Tests of the shared request core (`gradient_integrations.core`): HTTP mocked in-process or on loopback."""
