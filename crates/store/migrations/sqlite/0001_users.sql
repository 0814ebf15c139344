-- cpm-store SQLite schema, version 1: users, their digest credentials and E.164 aliases.
CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    aor          TEXT    NOT NULL UNIQUE,      -- canonical 'sip:NAME@domain'
    username     TEXT    NOT NULL,
    domain       TEXT    NOT NULL,             -- lower case
    display_name TEXT,
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at   INTEGER NOT NULL,             -- unix seconds, given by the caller
    UNIQUE (username, domain)
);

-- HA1 = H(username ":" realm ":" password) per algorithm; never the password.
CREATE TABLE user_credentials (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    algorithm TEXT    NOT NULL CHECK (algorithm IN ('MD5', 'SHA-256')),
    realm     TEXT    NOT NULL,
    ha1       TEXT    NOT NULL,
    PRIMARY KEY (user_id, algorithm)
);

-- Normalised E.164 numbers ('+15551230001'), unique across all users.
CREATE TABLE user_aliases (
    alias   TEXT    PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX user_aliases_user ON user_aliases (user_id);
