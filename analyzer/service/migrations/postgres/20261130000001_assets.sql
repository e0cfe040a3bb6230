-- Assets: one per upload. The stored file's name is the id; the client's name is kept only
-- for display, cleaned. (PostgreSQL twin of ../sqlite/20261130000001_assets.sql.)
CREATE TABLE assets (
    id            TEXT PRIMARY KEY NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    original_name TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    probe         TEXT NOT NULL,
    error         TEXT
);

-- Who did what, when: uploads, deletions, refusals and failures.
CREATE TABLE audit (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TEXT NOT NULL,
    client     TEXT NOT NULL,
    action     TEXT NOT NULL,
    asset      TEXT,
    detail     TEXT NOT NULL
);
