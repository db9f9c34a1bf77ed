-- A user can be deactivated (issue 22): they can no longer sign in, their sessions end and
-- the API keys they created are revoked. Numbered after the issue so that it cannot collide
-- with migrations written alongside it; sqlx applies any migration not yet applied.
ALTER TABLE staff_users ADD COLUMN deactivated_at TIMESTAMPTZ;
CREATE INDEX api_keys_created_by ON api_keys (created_by);
