-- Issue 16: the agents' desk. Who owns a case, whether it waits on the customer (the SLA
-- clock stops and reminders run from then), which case it was merged into, and when each
-- side last wrote (the lists' "customer wrote N h ago" and the SLA's response targets).
-- Times are Unix ms like every other time in the store.
ALTER TABLE cases ADD COLUMN owner TEXT;
ALTER TABLE cases ADD COLUMN waiting_since INTEGER;
ALTER TABLE cases ADD COLUMN merged_into INTEGER REFERENCES cases (id);
ALTER TABLE cases ADD COLUMN customer_wrote_at INTEGER;
ALTER TABLE cases ADD COLUMN agent_answered_at INTEGER;
UPDATE cases SET customer_wrote_at = created_at;
CREATE INDEX cases_owner ON cases (owner, status);
