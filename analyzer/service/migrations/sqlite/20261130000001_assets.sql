-- Assets: one per upload. The stored file's name is the id; the client's name is kept only
-- for display, cleaned.
CREATE TABLE assets (
    id            TEXT PRIMARY KEY NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    original_name TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    probe         TEXT NOT NULL,
    error         TEXT
);

-- Who did what, when: uploads, deletions, refusals and failures.
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    client     TEXT NOT NULL,
    action     TEXT NOT NULL,
    asset      TEXT,
    detail     TEXT NOT NULL
);
