-- API tokens. Only a hash of the secret is stored; the secret itself is shown once, at creation.
-- Revoked tokens stay (with the time of revocation) so that `token list` tells what happened.

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name   TEXT NOT NULL CHECK (length(user_name) > 0),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'instructor', 'staff')),
    course_key  TEXT,
    hash        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
