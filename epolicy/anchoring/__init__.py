"""Anchoring the audit chain outside the database: its head, timestamped (RFC 3161) and written once to
both archive locations (anchor), and the check of those anchors (verify). Above the audit log, the
archive and signing, which it uses; not a Django app (its rows are the audit app's AuditAnchor)."""
