-- Console sessions are signed cookies any replica can verify; logging out
-- must still end one on the server, so that a cookie copied before the
-- logout is refused after it. A logout records the session's id (a hash of
-- its random nonce, never the cookie) until the session would have expired;
-- every console request checks it. Rows past expires_at are deleted by the
-- next logout.
CREATE TABLE console_revoked_sessions (
    session_hash text PRIMARY KEY,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz NOT NULL
);
CREATE INDEX console_revoked_sessions_expiry ON console_revoked_sessions (expires_at);
