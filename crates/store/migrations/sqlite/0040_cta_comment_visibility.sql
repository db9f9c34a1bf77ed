-- A CTA comment is internal (the vendor's team only) or shared (the account's partner sees it),
-- as a timeline note is. Comments written before were read by the team: internal.
ALTER TABLE cta_comments ADD COLUMN internal BOOLEAN NOT NULL DEFAULT TRUE;
