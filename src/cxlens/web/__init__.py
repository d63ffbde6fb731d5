"""The dashboard: login, pages, charts, journey map, alerts and reports (see docs/dashboard.md)."""
