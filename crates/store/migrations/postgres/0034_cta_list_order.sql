-- The CTA list's order (due day, undated last, then priority, age, id) per owner and status,
-- and per status for the whole team: a page is the first rows of an index, not a sort of every
-- open CTA (a CSM with 23,000 open CTAs sorted them all for each page of 50).
CREATE INDEX ctas_owner_order ON ctas (owner_email, status, (CASE WHEN due_on IS NULL THEN 1 ELSE 0 END), due_on, priority DESC, created_at, cta_id);
CREATE INDEX ctas_status_order ON ctas (status, (CASE WHEN due_on IS NULL THEN 1 ELSE 0 END), due_on, priority DESC, created_at, cta_id);
