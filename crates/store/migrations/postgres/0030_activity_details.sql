-- Activities as a CSM logs them (issue 25): who attended, the next steps agreed, and whether
-- the entry is internal (the vendor's team only) or shared (partners of the account see it).
-- Rows from before were visible to the account's partner, so they stay shared.
ALTER TABLE activities ADD COLUMN attendees TEXT;
ALTER TABLE activities ADD COLUMN next_steps TEXT;
ALTER TABLE activities ADD COLUMN internal BOOLEAN NOT NULL DEFAULT FALSE;
