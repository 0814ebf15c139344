-- cpm-store SQLite schema, version 2: the registrar's location service (RFC 3261 §10, RFC 5626).
CREATE TABLE bindings (
    id          INTEGER PRIMARY KEY,
    aor         TEXT    NOT NULL REFERENCES users (aor) ON DELETE CASCADE ON UPDATE CASCADE,
    binding_key TEXT    NOT NULL,              -- 'instance:<+sip.instance>[;reg-id=N]' or 'contact:<uri>'
    contact     TEXT    NOT NULL,
    instance    TEXT,                          -- +sip.instance, as received
    reg_id      INTEGER,
    q           INTEGER CHECK (q BETWEEN 0 AND 1000),   -- thousandths
    expires_at  INTEGER NOT NULL,              -- unix seconds
    call_id     TEXT    NOT NULL,
    cseq        INTEGER NOT NULL,
    path        TEXT    NOT NULL DEFAULT '[]', -- JSON array of Path header values (RFC 3327)
    received    TEXT,                          -- source transport and address of the REGISTER
    user_agent  TEXT,
    updated_at  INTEGER NOT NULL,              -- unix seconds of the last write, given by the caller
    UNIQUE (aor, binding_key)
);
CREATE INDEX bindings_expires_at ON bindings (expires_at);
