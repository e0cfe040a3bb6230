-- What the transcode job made of an asset, and how far it is.
ALTER TABLE assets ADD COLUMN progress DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE assets ADD COLUMN outputs TEXT;
