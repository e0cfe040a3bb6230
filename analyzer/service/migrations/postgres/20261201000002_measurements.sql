-- Measurement jobs: what was asked (the request as JSON), where and when it ran, and what it
-- found (the run's summary.json, the --fail-if checks that held, or why it could not measure).
CREATE TABLE measurements (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    verdict TEXT,
    location TEXT,
    request TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    worker TEXT,
    summary TEXT,
    failures TEXT,
    error TEXT
);
CREATE INDEX measurements_created ON measurements (created_at);
