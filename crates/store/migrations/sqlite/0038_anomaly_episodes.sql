-- A usage anomaly is one drop for as long as it lasts: last_day is the latest day the daily
-- signals still found it. A detection within 7 days of that day continues the same drop instead
-- of recording a new one, so a drop that goes on for weeks raises usage.anomaly once and a
-- usage-drop CTA closed for it stays closed.
ALTER TABLE usage_anomalies ADD COLUMN last_day TEXT;
UPDATE usage_anomalies SET last_day = day;
