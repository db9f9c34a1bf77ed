-- Group traits on accounts (issue 21). What traits last set on each account, by field
-- ("name", "segment", "attributes.plan"): a field that still holds it may be updated by newer
-- traits; one that holds anything else was set by an import or a person, and is kept.
CREATE TABLE usage_accounts (
    account_id TEXT PRIMARY KEY,
    traits     TEXT NOT NULL DEFAULT '{}',
    seen_at    TEXT NOT NULL
);

-- The product user a contact is (identify with an e-mail), for the contact's last activity.
ALTER TABLE contacts ADD COLUMN user_id TEXT;
